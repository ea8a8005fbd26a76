// OUT as `run` writes it (safetensors, F32). Tensors the run holds in memory are written at the end; attention weights
// streamed during the forward (a hook's `stream`) go to a spool file beside OUT as their chunks arrive, and are copied
// into place, a chunk's piece at a time, when the file is written: neither a map nor the file is ever whole in memory.
// A failed run leaves neither OUT nor its spool behind.
import { closeSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { WeightsChunk } from '../hooks/registry.ts';
import { safetensorsHeader } from '../model/safetensors.ts';

/** A tensor `run` writes to OUT from memory. */
export interface OutTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A tensor `run` writes to OUT from the spool: weights a hook streamed to `OutFile.sink(name)`. */
export interface SpooledTensor {
  name: string;
  shape: number[];
  spooled: true;
}

/** Streamed weights [B, H, L, S] as they arrived: query rows [from, to) of every head at byte `at` of the spool. */
interface Spooled {
  B: number;
  H: number;
  S: number;
  L: number;
  pieces: { from: number; to: number; at: number }[];
}

const ioError = (what: string, path: string, e: unknown) => new Error(`cannot ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });

/** Writes all of `bytes` at `position` (writeSync may write less than asked). */
function writeAll(fd: number, bytes: Uint8Array, position: number | null): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, position === null ? null : position + done);
}

export class OutFile {
  private readonly spoolPath: string;
  private spoolFd?: number;
  private spoolBytes = 0;
  private readonly spooled = new Map<string, Spooled>();

  constructor(readonly path: string) {
    this.spoolPath = `${path}.spool-${process.pid}`;
  }

  /** Bytes written to the spool so far. */
  get spoolSize(): number {
    return this.spoolBytes;
  }

  /** An onChunk for a hook's `stream` that spools its weights as tensor `name` (chunks in query order, as they come). */
  sink(name: string): (c: WeightsChunk) => void {
    return ({ queries: [from, to], weights }) => {
      const [B, H, rows, S] = weights.shape;
      // A new forward (--repeat) streams the tensor again from its first row: the last forward's chunks are the ones written.
      if (from === 0) this.spooled.set(name, { B, H, S, L: 0, pieces: [] });
      const s = this.spooled.get(name) ?? this.spooled.set(name, { B, H, S, L: 0, pieces: [] }).get(name)!;
      if (B !== s.B || H !== s.H || S !== s.S || from !== s.L || rows !== to - from) {
        throw new Error(`${name}: chunk of query rows [${from}, ${to}) [${weights.shape.join(', ')}] does not follow rows [0, ${s.L}) [${s.B}, ${s.H}, ${s.L}, ${s.S}]`);
      }
      try {
        this.spoolFd ??= openSync(this.spoolPath, 'w+');
        writeAll(this.spoolFd, new Uint8Array(weights.data.buffer, weights.data.byteOffset, weights.data.byteLength), this.spoolBytes);
      } catch (e) {
        throw ioError('write', this.spoolPath, e);
      }
      s.pieces.push({ from, to, at: this.spoolBytes });
      s.L = to;
      this.spoolBytes += weights.data.byteLength;
    };
  }

  /** The weights spooled as `name`, [B, H, L, S] (L: the rows that came); undefined when no chunk came. */
  spooledTensor(name: string): SpooledTensor | undefined {
    const s = this.spooled.get(name);
    return s && { name, shape: [s.B, s.H, s.L, s.S], spooled: true };
  }

  /**
   * Writes OUT: the header for `tensors` in their order, then each one's data, next to the destination and renamed into
   * place. Spooled weights are copied piece by piece: for each head, its rows of each chunk in query order.
   */
  write(tensors: readonly (OutTensor | SpooledTensor)[], metadata: Record<string, string>): void {
    const entries = tensors.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape }));
    const tmp = `${this.path}.tmp-${process.pid}`;
    let fd: number | undefined;
    try {
      fd = openSync(tmp, 'w');
      writeAll(fd, safetensorsHeader(entries, metadata), null);
      let piece = new Uint8Array(0);
      for (const t of tensors) {
        if (!('spooled' in t)) {
          writeAll(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), null);
          continue;
        }
        const { name } = t;
        const s = this.spooled.get(name);
        if (!s || s.L !== t.shape[2]) throw new Error(`${this.spoolPath}: ${name} has rows [0, ${s?.L ?? 0}), not the ${t.shape[2]} written in the header`);
        for (let bh = 0; bh < s.B * s.H; bh++) {
          for (const { from, to, at } of s.pieces) {
            const n = (to - from) * s.S * 4;
            if (piece.length < n) piece = new Uint8Array(n);
            const view = piece.subarray(0, n);
            for (let got = 0; got < n; ) {
              const r = readSync(this.spoolFd!, view, got, n - got, at + bh * n + got);
              if (r === 0) throw new Error(`${this.spoolPath}: ended before ${name}'s rows [${from}, ${to})`);
              got += r;
            }
            writeAll(fd, view, null);
          }
        }
      }
      closeSync(fd);
      fd = undefined;
      renameSync(tmp, this.path);
    } catch (e) {
      if (fd !== undefined) closeSync(fd);
      rmSync(tmp, { force: true });
      throw e instanceof Error && e.message.startsWith(this.spoolPath) ? e : ioError('write', this.path, e);
    } finally {
      this.dispose();
    }
  }

  /** Removes the spool (after writing OUT, or when the run failed). */
  dispose(): void {
    if (this.spoolFd !== undefined) closeSync(this.spoolFd);
    this.spoolFd = undefined;
    rmSync(this.spoolPath, { force: true });
  }
}
