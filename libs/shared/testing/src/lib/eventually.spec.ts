import { EventuallyTimeoutError, eventually } from './eventually';

describe('eventually', () => {
  it('resolves with the value once fn stops throwing', async () => {
    let calls = 0;
    const value = await eventually(() => {
      calls++;
      if (calls < 3) throw new Error(`not yet (${calls})`);
      return 'done';
    }, { intervalMs: 1 });
    expect(value).toBe('done');
    expect(calls).toBe(3);
  });

  it('treats false as not yet, and awaits promises', async () => {
    let calls = 0;
    await expect(eventually(async () => ++calls >= 2, { intervalMs: 1 })).resolves.toBe(true);
  });

  it('fails with the description and the last failure', async () => {
    let calls = 0;
    const attempt = eventually(
      () => {
        calls++;
        throw new Error(`still ${calls}`);
      },
      { timeoutMs: 50, intervalMs: 5, description: 'the moon is blue' },
    );
    await expect(attempt).rejects.toBeInstanceOf(EventuallyTimeoutError);
    await expect(attempt).rejects.toThrow(/^eventually: "the moon is blue" was still not satisfied after 50 ms \(\d+ attempts?\); last failure: still \d+$/);
    const err = (await attempt.catch((e: unknown) => e)) as EventuallyTimeoutError;
    expect(err.cause).toBeInstanceOf(Error);
    expect(err.attempts).toBe(calls);
  });

  it('says when fn kept returning false', async () => {
    await expect(eventually(() => false, { timeoutMs: 20, intervalMs: 5 })).rejects.toThrow(/last failure: returned false/);
  });

  it('does not hang on an attempt that never settles', async () => {
    await expect(eventually(() => new Promise<never>(() => undefined), { timeoutMs: 30, description: 'hung call' })).rejects.toThrow(
      /"hung call".*last failure: the last attempt was still running/,
    );
  });
});
