import { aTask, anAgent, runCheck, verdict } from '../placement.fixtures';
import { resourcesCheck } from './resources.check';

describe('resourcesCheck', () => {
  const agent = (over: Parameters<typeof anAgent>[0] = {}) =>
    anAgent({ total: { cpus: 4, memoryMb: 4096, diskMb: 1000 }, portRange: { begin: 31000, end: 31002 }, ...over });

  it.each([
    ['exactly the free amounts', { cpus: 4, memoryMb: 4096, diskMb: 1000, numPorts: 3 }, agent(), 'fits'],
    ['one cpu too many', { cpus: 5 }, agent(), 'notNow NOT_ENOUGH_CPUS'],
    ['cpus short after used', { cpus: 2 }, agent({ used: { cpus: 3 } }), 'notNow NOT_ENOUGH_CPUS'],
    ['memory short', { memoryMb: 2048 }, agent({ used: { memoryMb: 3072 } }), 'notNow NOT_ENOUGH_MEMORY'],
    ['disk short', { diskMb: 1001 }, agent(), 'notNow NOT_ENOUGH_DISK'],
    ['ports short', { numPorts: 4 }, agent(), 'notNow NOT_ENOUGH_PORTS'],
    ['used ports count', { numPorts: 3 }, agent({ usedPorts: new Set([31001]) }), 'notNow NOT_ENOUGH_PORTS'],
    ['used ports outside the range do not', { numPorts: 3 }, agent({ usedPorts: new Set([80, 40000]) }), 'fits'],
    ['cpus are reported before memory', { cpus: 9, memoryMb: 9999 }, agent(), 'notNow NOT_ENOUGH_CPUS'],
    ['fractional cpus add up', { cpus: 0.1 }, agent({ total: { cpus: 1 }, used: { cpus: 0.1 * 9 } }), 'fits'],
  ])('%s → %s', (_name, resources, theAgent, wanted) => {
    expect(verdict(runCheck(resourcesCheck, aTask({ resources }), theAgent))).toBe(wanted);
  });
});
