import { decideOom, type OomVerdict } from './oom-decision';

const MB = 1024 * 1024;
const thresholds = { requestKillThresholdRatio: 1.0, killProcessDirectlyThresholdRatio: 1.2 };

describe('decideOom (spec slave §6)', () => {
  it.each<[string, number | undefined, number | undefined, OomVerdict]>([
    ['well under the limit', 90 * MB, 100 * MB, 'ok'],
    ['exactly at the limit (not over)', 100 * MB, 100 * MB, 'ok'],
    ['scenario 30: 0.9 → nothing', 90 * MB, 100 * MB, 'ok'],
    ['scenario 30: 1.1 → ask the scheduler', 110 * MB, 100 * MB, 'requestKill'],
    ['exactly at the direct threshold (still a request)', 120 * MB, 100 * MB, 'requestKill'],
    ['scenario 30: 1.3 → SIGKILL here', 130 * MB, 100 * MB, 'killDirectly'],
    ['no limit', 500 * MB, undefined, 'unknown'],
    ['a zero limit', 1 * MB, 0, 'unknown'],
    ['no reading', undefined, 100 * MB, 'unknown'],
  ])('%s', (_what, residentBytes, limitBytes, verdict) => {
    expect(decideOom({ residentBytes, limitBytes }, thresholds).verdict).toBe(verdict);
  });

  it('reports the ratio it judged', () => {
    expect(decideOom({ residentBytes: 110, limitBytes: 100 }, thresholds).ratio).toBeCloseTo(1.1);
    expect(decideOom({ residentBytes: 110 }, thresholds).ratio).toBeUndefined();
  });

  it('with equal thresholds nothing is requested: over it is a direct kill', () => {
    const same = { requestKillThresholdRatio: 1.5, killProcessDirectlyThresholdRatio: 1.5 };
    expect(decideOom({ residentBytes: 151, limitBytes: 100 }, same).verdict).toBe('killDirectly');
    expect(decideOom({ residentBytes: 150, limitBytes: 100 }, same).verdict).toBe('ok');
  });
});
