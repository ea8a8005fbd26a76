import { ModelFileError, show } from '../errors.ts';

/**
 * Typed, checked reads of a config object's fields. Every failure is a one-line ModelFileError 'config' that names
 * the file, the field and the bad value. Kinds parse their configs with it, so each check is written once.
 */
export class ConfigFields {
  private readonly c: Record<string, unknown>;

  constructor(
    json: unknown,
    /** The file label messages name. */
    readonly file: string,
    /** What the config is, for messages: 'attnscope config', 'config.json'. */
    readonly what: string,
  ) {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      this.fail(undefined, `is ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}, not an object`);
    }
    this.c = json as Record<string, unknown>;
  }

  fail(field: string | undefined, msg: string): never {
    throw new ModelFileError(`${this.file}: ${this.what}${field ? ` field "${field}"` : ''}: ${msg}`, 'config', this.file, field);
  }

  keys(): string[] {
    return Object.keys(this.c);
  }

  /** Present and not undefined (possible from JS callers, never from JSON). */
  has(k: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.c, k) && this.c[k] !== undefined;
  }

  raw(k: string): unknown {
    return this.has(k) ? this.c[k] : undefined;
  }

  get(k: string): unknown {
    return this.has(k) ? this.c[k] : this.fail(k, 'is missing');
  }

  int(k: string, min: number, max: number): number {
    const v = this.get(k);
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(k, `${show(v)} is not an integer`);
    if ((v as number) < min) this.fail(k, `${show(v)} is below the minimum ${min}`);
    if ((v as number) > max) this.fail(k, `${show(v)} is over the limit ${max}`);
    return v as number;
  }

  /** A finite number; `positive`: also > 0. */
  number(k: string, positive = false): number {
    const v = this.get(k);
    if (typeof v !== 'number' || !Number.isFinite(v) || (positive && v <= 0)) this.fail(k, `${show(v)} is not a finite number${positive ? ' > 0' : ''}`);
    return v as number;
  }

  bool(k: string): boolean {
    const v = this.get(k);
    return typeof v === 'boolean' ? v : this.fail(k, `${show(v)} is not true or false`);
  }

  oneOf<T extends string>(k: string, allowed: readonly T[]): T {
    const v = this.get(k);
    return typeof v === 'string' && (allowed as readonly string[]).includes(v) ? (v as T) : this.fail(k, `${show(v)} is not one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
  }

  /** A non-empty array of strings of at most `max` entries. */
  strings(k: string, max: number): string[] {
    const v = this.get(k);
    if (!Array.isArray(v)) return this.fail(k, `${show(v)} is not an array of strings`);
    if (v.length < 1) this.fail(k, 'is empty');
    if (v.length > max) this.fail(k, `has ${v.length} entries, over the limit ${max}`);
    for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') this.fail(k, `entry ${i} is ${show(v[i])}, not a string`);
    return (v as string[]).slice();
  }

  /** null when absent or null, else an integer in [0, n) (a token id of a vocabulary named `of`). */
  /** null, a token id, or a non-empty list of them (HF's eos_token_id may list several); an empty list reads as null. */
  tokenIds(k: string, n: number, of: string): number | number[] | null {
    const v = this.raw(k);
    if (!Array.isArray(v)) return this.optionalId(k, n, of);
    if (!v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < n)) this.fail(k, `${show(v)} is not a list of token ids in 0..${n - 1} (${of} has ${n} entries)`);
    return v.length ? (v as number[]) : null;
  }

  optionalId(k: string, n: number, of: string): number | null {
    const v = this.raw(k);
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= n) this.fail(k, `${show(v)} is not null or a token id in 0..${n - 1} (${of} has ${n} entries)`);
    return v as number;
  }
}
