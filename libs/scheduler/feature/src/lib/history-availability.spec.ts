import { Client } from 'pg';
import type { HistoryRepository } from '@singularity/scheduler-history';
import { freePort } from '@singularity/testing';
import { UnavailableError } from '@singularity/util';
import { isDatabaseUnavailable, withAvailabilityErrors } from './history-availability';

/** The error the real driver gives when PostgreSQL is down (a port nothing listens on). */
async function refusedConnectionError(): Promise<Error> {
  const client = new Client({ host: '127.0.0.1', port: await freePort(), user: 'x', database: 'x', connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
  } catch (err) {
    return err as Error;
  }
  throw new Error('connected to a port nothing should listen on');
}

describe('history database availability', () => {
  it("recognises the driver's errors for an unreachable server, and nothing else", async () => {
    expect(isDatabaseUnavailable(await refusedConnectionError())).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('syntax error at or near "SELEC"'), { code: '42601' }))).toBe(false);
    expect(isDatabaseUnavailable(new TypeError('x is undefined'))).toBe(false);
  });

  it('answers 503 with what to do while the database is down, and passes other errors on', async () => {
    const refused = await refusedConnectionError();
    const repository = {
      requestTasks: () => Promise.reject(refused),
      deployHistory: () => Promise.reject(new TypeError('a bug')),
      describe: () => 'db',
    } as unknown as HistoryRepository & { requestTasks(): Promise<unknown>; deployHistory(): Promise<unknown>; describe(): string };
    const guarded = withAvailabilityErrors(repository) as typeof repository;
    const failure = await guarded.requestTasks().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(UnavailableError);
    expect(failure).toMatchObject({ status: 503, message: expect.stringMatching(/^The history database is unavailable \(.*ECONNREFUSED.*\); live state is unaffected, retry later$/) });
    await expect(guarded.deployHistory()).rejects.toThrow(TypeError);
    expect(guarded.describe()).toBe('db');
  });
});
