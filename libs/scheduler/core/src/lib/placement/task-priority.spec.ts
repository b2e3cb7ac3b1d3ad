import type { RequestType } from '@singularity/models';
import { aRequest } from './placement.fixtures';
import { DEFAULT_PLACEMENT_SETTINGS } from './placement-settings';
import { taskPriorityLevel, taskWeight } from './task-priority';

describe('taskPriorityLevel', () => {
  it.each<[RequestType, number | undefined, number]>([
    ['SERVICE', undefined, 0.7],
    ['WORKER', undefined, 0.5],
    ['SCHEDULED', undefined, 0.3],
    ['ON_DEMAND', undefined, 0.3],
    ['RUN_ONCE', undefined, 0.3],
    ['WORKER', 0.9, 0.9],
    ['SERVICE', 0, 0],
  ])('%s with taskPriorityLevel %s → %d', (requestType, level, wanted) => {
    expect(taskPriorityLevel(aRequest({ requestType, taskPriorityLevel: level }), DEFAULT_PLACEMENT_SETTINGS)).toBe(wanted);
  });
});

describe('taskWeight', () => {
  it.each([
    ['overdue by 10 s', 0, 10_000, 0.5, 5_000],
    ['due right now counts as 1 ms', 10_000, 10_000, 0.7, 0.7],
    ['not yet due counts as 1 ms', 20_000, 10_000, 0.7, 0.7],
  ])('%s', (_name, nextRunAt, now, priority, wanted) => {
    expect(taskWeight(nextRunAt, now, priority)).toBeCloseTo(wanted, 10);
  });
});
