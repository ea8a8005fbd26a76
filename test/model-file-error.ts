import { expect } from 'vitest';
import { ModelFileError } from '../src/model/errors.ts';

/** Runs `fn`, expects a one-line ModelFileError with `code` whose message contains every fragment. */
export function expectModelFileError(fn: () => unknown, code: string, ...fragments: string[]): ModelFileError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected a ${code} error`).toBeInstanceOf(ModelFileError);
  const e = err as ModelFileError;
  expect(e.code, e.message).toBe(code);
  expect(e.message).not.toContain('\n');
  for (const f of fragments) expect(e.message).toContain(f);
  return e;
}
