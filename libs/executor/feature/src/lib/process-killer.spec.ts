import pino from 'pino';
import { ManualClock } from '@singularity/util';
import { ProcessKiller, type KillTarget, type Timers } from './process-killer';

/** Timers that fire only when the test says so. */
class ManualTimers implements Timers {
  private next = 1;
  readonly pending = new Map<number, { callback: () => void; millis: number }>();
  setTimeout(callback: () => void, millis: number): unknown {
    const id = this.next++;
    this.pending.set(id, { callback, millis });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  fireAll(): void {
    const timers = [...this.pending.entries()];
    this.pending.clear();
    for (const [, t] of timers) t.callback();
  }
}

class RecordingTarget implements KillTarget {
  readonly signals: NodeJS.Signals[] = [];
  signal(signal: NodeJS.Signals): boolean {
    this.signals.push(signal);
    return true;
  }
}

function setup() {
  const target = new RecordingTarget();
  const timers = new ManualTimers();
  const clock = new ManualClock(1000);
  const killer = new ProcessKiller(target, pino({ level: 'silent' }), clock, timers);
  return { target, timers, clock, killer };
}

describe('ProcessKiller', () => {
  it('sends SIGTERM, then SIGKILL when the grace runs out', () => {
    const { target, timers, killer } = setup();
    expect(killer.request({ destroy: false, graceMillis: 1500 })).toBe('sigterm');
    expect(target.signals).toEqual(['SIGTERM']);
    expect([...timers.pending.values()].map((t) => t.millis)).toEqual([1500]);
    timers.fireAll();
    expect(target.signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(killer.facts()).toMatchObject({ requestedAt: 1000, destroy: false, graceMillis: 1500, killedAfterGrace: true });
  });

  it('cancels the timer when the process exits within the grace', () => {
    const { target, timers, killer } = setup();
    killer.request({ destroy: false, graceMillis: 1500 });
    killer.stop();
    expect(timers.pending.size).toBe(0);
    expect(target.signals).toEqual(['SIGTERM']);
    expect(killer.facts()).toMatchObject({ killedAfterGrace: false });
  });

  it('adds nothing for repeated kills: one SIGTERM, one timer', () => {
    const { target, timers, killer, clock } = setup();
    killer.request({ destroy: false, graceMillis: 1500 });
    clock.advance(100);
    expect(killer.request({ destroy: false, graceMillis: 10 })).toBe('ignored');
    expect(killer.request({ destroy: false, graceMillis: 10 })).toBe('ignored');
    expect(target.signals).toEqual(['SIGTERM']);
    expect(timers.pending.size).toBe(1);
    expect(killer.facts()).toMatchObject({ requestedAt: 1000, graceMillis: 1500 });
  });

  it('destroys at once, and a destroy escalates a graceful kill', () => {
    const first = setup();
    expect(first.killer.request({ destroy: true, user: 'alice', graceMillis: 1500 })).toBe('sigkill');
    expect(first.target.signals).toEqual(['SIGKILL']);
    expect(first.timers.pending.size).toBe(0);
    expect(first.killer.facts()).toMatchObject({ destroy: true, user: 'alice' });

    const second = setup();
    second.killer.request({ destroy: false, graceMillis: 1500 });
    expect(second.killer.request({ destroy: true, user: 'bob', graceMillis: 0 })).toBe('sigkill');
    expect(second.target.signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(second.timers.pending.size).toBe(0);
    expect(second.killer.facts()).toMatchObject({ destroy: true, user: 'bob', killedAfterGrace: false });
    expect(second.killer.request({ destroy: true, graceMillis: 0 })).toBe('ignored');
  });

  it('ignores kills after the exit', () => {
    const { target, killer } = setup();
    killer.stop();
    expect(killer.request({ destroy: true, graceMillis: 0 })).toBe('ignored');
    expect(target.signals).toEqual([]);
    expect(killer.facts()).toBeUndefined();
  });
});
