// A status line on stderr while a long step runs (reading a checkpoint, opening the GPU, compiling, generating).

/**
 * Shown on a terminal only, rewritten in place and erased before anything else is printed, so stdout and stderr
 * end up holding exactly what they would without it (a failure is still one line).
 */
export class Progress {
  private shown = false;
  private readonly t0 = performance.now();

  /** `write` puts text on the user's stderr; undefined makes every call a no-op (--quiet, not a terminal). */
  constructor(private readonly write: ((s: string) => void) | undefined) {}

  /** Replaces the status line: 'attnscope: WHAT… (T s)'. */
  step(what: string): void {
    if (!this.write) return;
    this.write(`\r\x1b[Kattnscope: ${what}… (${((performance.now() - this.t0) / 1000).toFixed(1)} s)`);
    this.shown = true;
  }

  /** Erases the status line, if one is shown. */
  clear(): void {
    if (!this.shown) return;
    this.write!('\r\x1b[K');
    this.shown = false;
  }
}
