import pino from 'pino';
import type { ExecutorTaskDefinition } from '@singularity/models';
import { executorConfig } from './executor-config';
import { startThreadChecker, type ThreadCounter } from './thread-checker';

const logger = pino({ level: 'silent' });
const definition = (maxTaskThreads?: number) =>
  ({ taskId: 't', sandboxDirectory: '/nonexistent', executorData: { cmd: 'x', maxTaskThreads } }) as unknown as ExecutorTaskDefinition;
const config = executorConfig({ executor: { checkThreadsEveryMillis: 5 } });

/** A counter that answers from a script of counts (the last one repeats) and resolves `seen` after `n` calls. */
function scripted(counts: Array<number | undefined | Error>) {
  const calls: number[] = [];
  const counter: ThreadCounter = async (pgid) => {
    calls.push(pgid);
    const next = counts[Math.min(calls.length - 1, counts.length - 1)];
    if (next instanceof Error) throw next;
    return next;
  };
  const after = (n: number) =>
    new Promise<void>((resolve) => {
      const poll = setInterval(() => calls.length >= n && (clearInterval(poll), resolve()), 1);
    });
  return { counter, calls, after };
}

describe('thread checker', () => {
  it('does nothing without maxTaskThreads', async () => {
    const { counter, calls } = scripted([1000]);
    const onExceeded = jest.fn();
    const checker = startThreadChecker({ definition: definition(), config, logger, processPid: 42, onExceeded, countThreads: counter });
    await new Promise((r) => setTimeout(r, 30));
    checker.stop();
    expect(calls).toEqual([]);
    expect(onExceeded).not.toHaveBeenCalled();
  });

  it('counts the task process group and reports the first count over the cap, once', async () => {
    const { counter, calls } = scripted([3, 10, undefined, new Error('ps failed'), 11, 50]);
    let resolveExceeded!: () => void;
    const exceeded = new Promise<void>((r) => (resolveExceeded = r));
    const onExceeded = jest.fn(() => resolveExceeded());
    const checker = startThreadChecker({ definition: definition(10), config, logger, processPid: 42, onExceeded, countThreads: counter });
    await exceeded;
    const callsWhenExceeded = calls.length;
    // It stopped counting: no further calls, no second report.
    await new Promise((r) => setTimeout(r, 30));
    checker.stop();
    expect(onExceeded).toHaveBeenCalledTimes(1);
    expect(onExceeded).toHaveBeenCalledWith(11, 10);
    expect(calls).toHaveLength(callsWhenExceeded);
    expect(new Set(calls)).toEqual(new Set([42]));
  });

  it('reports nothing once stopped', async () => {
    const { counter, after } = scripted([5]);
    const onExceeded = jest.fn();
    const checker = startThreadChecker({ definition: definition(10), config, logger, processPid: 7, onExceeded, countThreads: counter });
    await after(2);
    checker.stop();
    expect(onExceeded).not.toHaveBeenCalled();
  });
});
