// Dawn prints its adapter probing straight to the process's stderr (fd 2) from native code: on a machine without a
// GPU, lines such as "error: XDG_RUNTIME_DIR is invalid or not set in the environment." and "Warning: Couldn't load
// Vulkan: …". A command that opens a GPU therefore runs in a child process whose fd 2 is read and dropped; the CLI's
// own messages reach the user's stderr through the child's fd 3. --debug runs in one process and shows everything.
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';

const CHILD = 'ATTNSCOPE_CLI_CHILD';
const TTY = 'ATTNSCOPE_CLI_STDERR_TTY';

export const inChild = (): boolean => process.env[CHILD] === '1';

/** Whether the user's stderr is a terminal (the child's own stderr is a pipe). */
export const stderrIsTTY = (): boolean => (inChild() ? process.env[TTY] === '1' : process.stderr.isTTY === true);

/** Writes the CLI's own text to the user's stderr. */
export function writeStderr(text: string): void {
  writeSync(inChild() ? 3 : 2, text);
}

/** Runs this command line again in a child with Dawn's stderr dropped; resolves to the exit status to use. */
export function runInChild(argv: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...argv], {
      stdio: ['inherit', 'inherit', 'pipe', 2],
      env: { ...process.env, [CHILD]: '1', [TTY]: process.stderr.isTTY ? '1' : '0' },
    });
    child.stderr!.resume(); // read and dropped: a pipe nobody reads would block the child once it is full
    child.on('error', (e) => {
      writeStderr(`attnscope: cannot start the GPU process: ${e.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      if (code === 0 || code === 1 || code === 2) return resolve(code);
      writeStderr(`attnscope: the GPU process ${signal ? `was killed by ${signal}` : `exited with status ${code}`}; run again with --debug to see Dawn's messages\n`);
      resolve(1);
    });
  });
}
