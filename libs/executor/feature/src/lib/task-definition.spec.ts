import type { EmbeddedArtifact, ExecutorData, ExecutorTaskDefinition } from '@singularity/models';
import { InvalidTaskDefinitionError } from './executor-errors';
import { parseTaskDefinition, salvageStatusTarget, sigKillGraceMillis, successfulExitCodes } from './task-definition';

type Def = ExecutorTaskDefinition;

const valid = (): ExecutorTaskDefinition => ({
  taskId: 'req-dep-1-0-host-rack',
  requestId: 'req',
  deployId: 'dep',
  executorData: { cmd: 'sleep 1' },
  env: { TASK_ID: 'req-dep-1-0-host-rack' },
  resources: { cpus: 1, memoryMb: 64, diskMb: 100, ports: [31000] },
  sandboxDirectory: '/sandbox/t',
  controlDirectory: '/control/t',
  statusFile: '/control/t/status.jsonl',
  killFile: '/control/t/kill.json',
  defaultSigKillProcessesAfterMillis: 180000,
});

function parseError(definition: unknown): InvalidTaskDefinitionError {
  try {
    parseTaskDefinition(JSON.stringify(definition));
  } catch (err) {
    if (err instanceof InvalidTaskDefinitionError) return err;
    throw err;
  }
  throw new Error('expected the definition to be rejected');
}

describe('parseTaskDefinition', () => {
  it('accepts a valid definition and keeps unknown executorData fields', () => {
    const input = { ...valid(), executorData: { cmd: 'x', loggingTag: 'tag', somethingNew: { a: 1 } } };
    const parsed = parseTaskDefinition(JSON.stringify(input));
    expect(parsed).toEqual(input);
  });

  it.each([
    ['no cmd', (d: Def) => delete (d.executorData as Partial<ExecutorData>).cmd, 'executorData.cmd'],
    ['a blank cmd', (d: Def) => (d.executorData.cmd = '  '), 'executorData.cmd'],
    ['a relative sandbox', (d: Def) => (d.sandboxDirectory = 'relative/t'), 'sandboxDirectory'],
    ['no status file', (d: Def) => delete (d as Partial<Def>).statusFile, 'statusFile'],
    ['a non-string env value', (d: Def) => ((d.env as Record<string, unknown>).PORT0 = 31000), 'env.PORT0'],
    ['an artifact without content', (d: Def) => (d.executorData.embeddedArtifacts = [{ filename: 'a' } as EmbeddedArtifact]), 'executorData.embeddedArtifacts.0.content'],
    ['a negative grace', (d: Def) => (d.executorData.sigKillProcessesAfterMillis = -1), 'executorData.sigKillProcessesAfterMillis'],
    ['an exit code above 255', (d: Def) => (d.executorData.successfulExitCodes = [256]), 'executorData.successfulExitCodes.0'],
    ['maxOpenFiles 0', (d: Def) => (d.executorData.maxOpenFiles = 0), 'executorData.maxOpenFiles'],
  ])('rejects %s, naming the field', (_what, mutate, field) => {
    const definition = valid();
    mutate(definition);
    const err = parseError(definition);
    expect(err.field).toBe(field);
    expect(err.message.startsWith(`${field}: `)).toBe(true);
  });

  it('rejects text that is not JSON', () => {
    expect(() => parseTaskDefinition('{nope')).toThrow(/not valid JSON/);
  });
});

describe('salvageStatusTarget', () => {
  it('finds the task id and status file of a definition that failed validation', () => {
    expect(salvageStatusTarget(JSON.stringify({ taskId: 't', statusFile: '/s.jsonl', executorData: {} }))).toEqual({ taskId: 't', statusFile: '/s.jsonl' });
  });
  it.each([undefined, '{nope', '{"taskId":"t"}', '{"taskId":"t","statusFile":"relative"}', 'null'])('gives up on %j', (text) => {
    expect(salvageStatusTarget(text)).toBeUndefined();
  });
});

describe('sigKillGraceMillis', () => {
  it('prefers the kill request, then the task, then the default', () => {
    const definition = valid();
    expect(sigKillGraceMillis(definition)).toBe(180000);
    definition.executorData.sigKillProcessesAfterMillis = 5000;
    expect(sigKillGraceMillis(definition, {})).toBe(5000);
    expect(sigKillGraceMillis(definition, { sigKillProcessesAfterMillis: 0 })).toBe(0);
  });
});

describe('successfulExitCodes', () => {
  it('defaults an empty list to {0}', () => {
    expect(successfulExitCodes({ cmd: 'x' })).toEqual([0]);
    expect(successfulExitCodes({ cmd: 'x', successfulExitCodes: [] })).toEqual([0]);
    expect(successfulExitCodes({ cmd: 'x', successfulExitCodes: [0, 3] })).toEqual([0, 3]);
  });
});
