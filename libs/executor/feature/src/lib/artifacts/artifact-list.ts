import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { EmbeddedArtifact, ExternalArtifact, S3Artifact, S3ArtifactSignature } from '@singularity/models';
import { TaskFailureError } from '../executor-errors';

/**
 * An artifact list (spec slave §1.4 step 4): a remote artifact with
 * `isArtifactList: true` is a JSON document naming more artifacts, staged
 * like the task's own. One level only: a list may not name another list.
 */
export interface ArtifactList {
  embeddedArtifacts: EmbeddedArtifact[];
  externalArtifacts: ExternalArtifact[];
  s3Artifacts: S3Artifact[];
  s3ArtifactSignatures: S3ArtifactSignature[];
}

const nonBlank = z.string().refine((s) => s.trim().length > 0, 'must not be blank');
const base = {
  name: z.string().optional(),
  filename: nonBlank,
  md5sum: z.string().optional(),
  targetFolderRelativeToTask: z.string().optional(),
};
const s3Shape = {
  ...base,
  filesize: z.number().int().min(0).optional(),
  s3Bucket: nonBlank,
  s3ObjectKey: nonBlank,
  isArtifactList: z.boolean().optional(),
};
const listSchema = z.looseObject({
  embeddedArtifacts: z.array(z.looseObject({ ...base, content: z.string() })).default([]),
  externalArtifacts: z
    .array(z.looseObject({ ...base, url: nonBlank, filesize: z.number().int().min(0).optional(), isArtifactList: z.boolean().optional() }))
    .default([]),
  s3Artifacts: z.array(z.looseObject(s3Shape)).default([]),
  s3ArtifactSignatures: z.array(z.looseObject({ ...s3Shape, artifactFilename: nonBlank })).default([]),
});

/** Parses the list in `path`; a task failure naming `label` when it is not valid JSON of that shape, or names another list. */
export async function readArtifactList(path: string, label: string): Promise<ArtifactList> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new TaskFailureError(`${label}: artifact list is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = listSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TaskFailureError(`${label}: invalid artifact list: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const list = parsed.data as ArtifactList;
  const nested = [...list.externalArtifacts, ...list.s3Artifacts].find((a) => a.isArtifactList);
  if (nested) {
    throw new TaskFailureError(`${label}: artifact list names another artifact list (${nested.filename}); lists are expanded one level only`);
  }
  return list;
}
