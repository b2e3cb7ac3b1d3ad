import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { LOGROTATE_FREQUENCIES, type AgentKillRequest, type ExecutorData, type ExecutorTaskDefinition } from '@singularity/models';
import { InvalidTaskDefinitionError } from './executor-errors';

/**
 * The task definition the agent writes to `<controlDirectory>/task.json`
 * (`ExecutorTaskDefinition`, spec slave §1.1). Fields the executor does not
 * use yet are accepted and kept (`looseObject`), so a newer scheduler can add
 * executorData fields without breaking older executors.
 */
const nonBlank = z.string().refine((s) => s.trim().length > 0, 'must not be blank');
const absolutePath = z.string().refine((p) => isAbsolute(p), 'must be an absolute path');
const millis = z.number().int().min(0);

const artifactBase = {
  name: z.string().optional(),
  filename: nonBlank,
  md5sum: z.string().optional(),
  targetFolderRelativeToTask: z.string().optional(),
};

const embeddedArtifactSchema = z.looseObject({ ...artifactBase, content: z.string() });
const externalArtifactSchema = z.looseObject({
  ...artifactBase,
  url: nonBlank,
  filesize: z.number().int().min(0).optional(),
  isArtifactList: z.boolean().optional(),
});
const s3ArtifactShape = {
  ...artifactBase,
  filesize: z.number().int().min(0).optional(),
  s3Bucket: nonBlank,
  s3ObjectKey: nonBlank,
  isArtifactList: z.boolean().optional(),
};
const s3ArtifactSchema = z.looseObject(s3ArtifactShape);
const s3ArtifactSignatureSchema = z.looseObject({ ...s3ArtifactShape, artifactFilename: nonBlank });

const s3UploaderFileSchema = z.union([
  nonBlank,
  z.looseObject({
    filename: nonBlank,
    s3UploaderBucket: z.string().optional(),
    s3UploaderKeyPattern: z.string().optional(),
    s3UploaderFilenameHint: z.string().optional(),
    directory: z.string().optional(),
    s3StorageClass: z.string().optional(),
    applyS3StorageClassAfterBytes: z.number().int().min(0).optional(),
    checkSubdirectories: z.boolean().optional(),
    compressBeforeUpload: z.boolean().optional(),
    checkIfOpen: z.boolean().optional(),
  }),
]);

const executorDataSchema = z.looseObject({
  cmd: nonBlank,
  embeddedArtifacts: z.array(embeddedArtifactSchema).optional(),
  externalArtifacts: z.array(externalArtifactSchema).optional(),
  s3Artifacts: z.array(s3ArtifactSchema).optional(),
  s3ArtifactSignatures: z.array(s3ArtifactSignatureSchema).optional(),
  successfulExitCodes: z.array(z.number().int().min(0).max(255)).optional(),
  user: z.string().optional(),
  runningSentinel: z.string().optional(),
  extraCmdLineArgs: z.array(z.string()).optional(),
  loggingTag: z.string().optional(),
  loggingExtraFields: z.record(z.string(), z.string()).optional(),
  sigKillProcessesAfterMillis: millis.optional(),
  maxTaskThreads: z.number().int().min(1).optional(),
  preserveTaskSandboxAfterFinish: z.boolean().optional(),
  maxOpenFiles: z.number().int().min(1).optional(),
  skipLogrotateAndCompress: z.boolean().optional(),
  logrotateFrequency: z.enum(LOGROTATE_FREQUENCIES).optional(),
  s3UploaderAdditionalFiles: z.array(s3UploaderFileSchema).optional(),
  defaultS3Bucket: z.string().optional(),
  s3UploaderKeyPattern: z.string().optional(),
  serviceLog: z.string().optional(),
  serviceFinishedTailLog: z.string().optional(),
  requestGroup: z.string().optional(),
  s3StorageClass: z.string().optional(),
  applyS3StorageClassAfterBytes: z.number().int().min(0).optional(),
});

const taskDefinitionSchema = z.looseObject({
  taskId: nonBlank,
  requestId: z.string(),
  deployId: z.string(),
  executorData: executorDataSchema,
  env: z.record(z.string(), z.string()),
  resources: z.looseObject({
    cpus: z.number().min(0),
    memoryMb: z.number().min(0),
    diskMb: z.number().min(0),
    ports: z.array(z.number().int().min(0).max(65535)),
  }),
  sandboxDirectory: absolutePath,
  controlDirectory: absolutePath,
  statusFile: absolutePath,
  killFile: absolutePath,
  defaultSigKillProcessesAfterMillis: millis,
});

/** Parses and validates task.json text; throws {@link InvalidTaskDefinitionError} naming the field. */
export function parseTaskDefinition(text: string): ExecutorTaskDefinition {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidTaskDefinitionError(`task definition is not valid JSON: ${(err as Error).message}`);
  }
  const result = taskDefinitionSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue.path.map(String).join('.');
    throw new InvalidTaskDefinitionError(`${field || '(root)'}: ${issue.message}`, field || undefined);
  }
  // The return type checks at compile time that the schema accepts only ExecutorTaskDefinitions.
  return result.data;
}

export async function readTaskDefinition(file: string): Promise<ExecutorTaskDefinition> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InvalidTaskDefinitionError(`cannot read task definition ${file}: ${(err as Error).message}`);
  }
  return parseTaskDefinition(text);
}

/**
 * The task id and status file of a definition that failed validation, when
 * they can still be read, so the failure can be reported on the status file.
 */
export function salvageStatusTarget(text: string | undefined): { taskId: string; statusFile: string } | undefined {
  if (text === undefined) return undefined;
  try {
    const raw = JSON.parse(text) as Record<string, unknown>;
    if (typeof raw?.taskId === 'string' && raw.taskId && typeof raw.statusFile === 'string' && isAbsolute(raw.statusFile)) {
      return { taskId: raw.taskId, statusFile: raw.statusFile };
    }
  } catch {
    // Not JSON at all: nothing to salvage.
  }
  return undefined;
}

/** Exit codes reported TASK_FINISHED; an empty or missing list means {0} (spec slave §1.2). */
export function successfulExitCodes(data: ExecutorData): readonly number[] {
  return data.successfulExitCodes && data.successfulExitCodes.length > 0 ? data.successfulExitCodes : [0];
}

/**
 * TERM→KILL grace of a kill (spec slave §1.8): the kill request's override,
 * else the task's `sigKillProcessesAfterMillis`, else the agent's default.
 */
export function sigKillGraceMillis(definition: ExecutorTaskDefinition, request?: AgentKillRequest): number {
  return request?.sigKillProcessesAfterMillis ?? definition.executorData.sigKillProcessesAfterMillis ?? definition.defaultSigKillProcessesAfterMillis;
}
