// The demo's task queue (demo/tasks.ts PageTasks): one task at a time, the newest request of a key wins (a waiting
// one is dropped, a running one aborted with reason 'replaced'), Cancel aborts the running task only, background work
// is suspended around tasks, and a task that throws does not stop the queue.
import { describe, expect, it, vi } from 'vitest';
import { type Background, PageTasks, type Task } from '../demo/tasks.ts';

/** A task that runs until `finish()` is called or its signal aborts; records what happened to it. */
function gate(log: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  let signal: AbortSignal | undefined;
  const task: Task = async (s) => {
    signal = s;
    log.push(`start ${name}`);
    await Promise.race([done, new Promise<void>((r) => s.addEventListener('abort', () => r()))]);
    log.push(s.aborted ? `aborted ${name} (${String(s.reason)})` : `end ${name}`);
  };
  return { task, finish: () => finish(), signal: () => signal };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

function queue(background?: Background) {
  const changes = vi.fn();
  return { tasks: new PageTasks(() => background, changes), changes };
}

describe('PageTasks', () => {
  it('runs requests one at a time, in order', async () => {
    const log: string[] = [];
    const { tasks } = queue();
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const pa = tasks.request('run', a.task);
    const pb = tasks.request('profile', b.task);
    await tick();
    expect(log).toEqual(['start a']);
    expect(tasks.keys).toEqual(['run', 'profile']);
    expect(tasks.busy).toBe(true);
    a.finish();
    await pa;
    await tick();
    expect(log).toEqual(['start a', 'end a', 'start b']);
    b.finish();
    await pb;
    await tick();
    expect(tasks.busy).toBe(false);
    expect(tasks.keys).toEqual([]);
  });

  it('a newer request of a key drops the waiting one and aborts the running one', async () => {
    const log: string[] = [];
    const { tasks } = queue();
    const first = gate(log, 'first');
    const waiting = gate(log, 'waiting');
    const newest = gate(log, 'newest');
    const dropped = vi.fn();
    const p1 = tasks.request('run', first.task);
    await tick();
    // two requests in one turn: the first of them waits, and the second drops it
    const p2 = tasks.request('run', waiting.task, { dropped });
    const p3 = tasks.request('run', newest.task);
    await p2; // resolved by its drop, never run
    expect(dropped).toHaveBeenCalledTimes(1);
    await p1;
    await tick();
    expect(log).toEqual(['start first', 'aborted first (replaced)', 'start newest']);
    newest.finish();
    await p3;
    expect(log).not.toContain('start waiting');
  });

  it('replaces names other keys a request supersedes (a model swap ends runs); other keys wait their turn', async () => {
    const log: string[] = [];
    const { tasks } = queue();
    const run = gate(log, 'run');
    const profile = gate(log, 'profile');
    const open = gate(log, 'open');
    void tasks.request('run', run.task);
    await tick();
    void tasks.request('profile', profile.task);
    const po = tasks.request('open', open.task, { replaces: ['run'] });
    await tick();
    expect(log).toEqual(['start run', 'aborted run (replaced)', 'start profile']);
    profile.finish();
    await tick();
    await tick();
    expect(log.at(-1)).toBe('start open');
    open.finish();
    await po;
  });

  it('cancel aborts the running task only; what waits still runs; cancel when idle does nothing', async () => {
    const log: string[] = [];
    const { tasks } = queue();
    tasks.cancel();
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const pa = tasks.request('run', a.task);
    const pb = tasks.request('causal', b.task);
    await tick();
    tasks.cancel();
    await pa;
    await tick();
    expect(log).toEqual(['start a', 'aborted a (cancelled)', 'start b']);
    expect(b.signal()!.aborted).toBe(false);
    b.finish();
    await pb;
  });

  it('whenIdle runs only when nothing runs or waits', async () => {
    const log: string[] = [];
    const { tasks } = queue();
    const a = gate(log, 'a');
    const pa = tasks.request('run', a.task);
    await tasks.whenIdle('export', async () => void log.push('export while busy'));
    a.finish();
    await pa;
    await tick();
    await tasks.whenIdle('export', async () => void log.push('export when idle'));
    expect(log).toEqual(['start a', 'end a', 'export when idle']);
  });

  it('suspends the background before each task and resumes it once nothing waits; a throwing task does not stop the queue', async () => {
    const log: string[] = [];
    const background: Background = { suspend: async () => void log.push('suspend'), resume: () => void log.push('resume') };
    const { tasks, changes } = queue(background);
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const bad = tasks.request('run', async () => {
      log.push('throws');
      throw new Error('boom');
    });
    const good = tasks.request('profile', async () => void log.push('runs after'));
    await Promise.all([bad, good]);
    await tick();
    expect(log).toEqual(['suspend', 'throws', 'suspend', 'runs after', 'resume']);
    expect(errors).toHaveBeenCalledWith(expect.objectContaining({ message: 'boom' }));
    expect(changes).toHaveBeenCalled();
    errors.mockRestore();
  });
});
