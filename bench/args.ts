// A bench's command-line options, read the one way every bench reads them: node's util.parseArgs, strict (an unknown
// option, or a value missing, stops the bench with its usage line), then numbers checked where they are read.
import { parseArgs } from 'node:util';

export class BenchArgs {
  private readonly values: Record<string, string | boolean | undefined>;

  /**
   * `strings`: the options taking a value (`--lengths 256,1024`), `flags`: the boolean ones (`--quick`). `usage` is
   * printed with any error.
   */
  constructor(readonly usage: string, strings: readonly string[], flags: readonly string[] = [], argv = process.argv.slice(2)) {
    const options = Object.fromEntries([...strings.map((k) => [k, { type: 'string' as const }]), ...flags.map((k) => [k, { type: 'boolean' as const }])]);
    try {
      this.values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
    } catch (e) {
      this.fail((e as Error).message);
    }
  }

  fail(message: string): never {
    console.error(`${message}\nusage: ${this.usage}`);
    process.exit(2);
  }

  string(name: string): string | undefined;
  string(name: string, dflt: string): string;
  string(name: string, dflt?: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : dflt;
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  /** An integer >= min. */
  int(name: string, dflt: number, min = 1): number {
    const v = this.string(name);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) this.fail(`--${name} ${v}: expected an integer >= ${min}`);
    return n;
  }

  /** A comma-separated list of integers >= min ('' for none). */
  ints(name: string, dflt: string, min = 1): number[] {
    const v = this.string(name, dflt);
    const ns = v.split(',').filter((s) => s.trim()).map(Number);
    if (ns.some((n) => !Number.isInteger(n) || n < min)) this.fail(`--${name} ${v}: expected integers >= ${min}, separated by commas`);
    return ns;
  }

  /** A comma-separated list, each one of `known`. */
  list<T extends string>(name: string, dflt: string, known: readonly T[]): T[] {
    const v = this.string(name, dflt);
    const xs = v.split(',').map((s) => s.trim()).filter((s) => s);
    const bad = xs.find((x) => !(known as readonly string[]).includes(x));
    if (!xs.length || bad !== undefined) this.fail(`--${name} ${v}: ${bad === undefined ? 'none named' : `unknown '${bad}'`} (known: ${known.join(', ')})`);
    return xs as T[];
  }
}
