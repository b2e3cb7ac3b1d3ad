import { ManualClock } from '@singularity/util';
import { ManualTimers } from './manual-timers';

describe('ManualTimers', () => {
  it('fires due timers in due order with the clock at each due time, then lands on the target', () => {
    const clock = new ManualClock(1000);
    const timers = new ManualTimers(clock);
    const fired: Array<[string, number]> = [];
    timers.setTimeout(() => fired.push(['b', clock.now()]), 200);
    timers.setTimeout(() => fired.push(['a', clock.now()]), 100);
    timers.setTimeout(() => fired.push(['c', clock.now()]), 200);
    timers.setTimeout(() => fired.push(['late', clock.now()]), 1000);

    expect(timers.nextDueAt()).toBe(1100);
    expect(timers.advance(500)).toBe(3);
    expect(fired).toEqual([['a', 1100], ['b', 1200], ['c', 1200]]);
    expect(clock.now()).toBe(1500);
    expect(timers.pending).toBe(1);
  });

  it('fires timers set by callbacks when they fall in the window, and not cleared ones', () => {
    const timers = new ManualTimers(new ManualClock(0));
    const fired: number[] = [];
    const cleared = timers.setTimeout(() => fired.push(-1), 10);
    timers.setTimeout(() => {
      fired.push(timers.clock.now());
      timers.setTimeout(() => fired.push(timers.clock.now()), 20);
      timers.setTimeout(() => fired.push(timers.clock.now()), 500);
    }, 50);
    timers.clearTimeout(cleared);

    timers.advance(100);
    expect(fired).toEqual([50, 70]);
    expect(timers.pending).toBe(1);
    timers.advance(0);
    expect(fired).toEqual([50, 70]);
  });

  it('a zero or negative delay is due now and fires on advance(0)', () => {
    const timers = new ManualTimers();
    let fired = 0;
    timers.setTimeout(() => fired++, 0);
    timers.setTimeout(() => fired++, -5);
    expect(fired).toBe(0);
    expect(timers.advance(0)).toBe(2);
  });
});
