import { spawn } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Artifact, S3ArtifactSignature } from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import type { ExecutorConfig } from '../executor-config';
import { ArtifactSignatureError } from '../executor-errors';

/** Where the verification command's output goes in `T` (spec slave §1.3). */
export const SIGNATURE_OUTPUT_FILE = 'executor.gpg.out';

/** A fetched S3 artifact or signature and its file in the cache. */
export interface FetchedPath<T> {
  artifact: T;
  /** The cache path (`{artifactPath}`/`{artifactSignaturePath}`). */
  path: string;
}

export type SignatureSettings = Pick<
  ExecutorConfig['executor'],
  | 'artifactSignatureVerificationCommand'
  | 'failTaskOnInvalidArtifactSignature'
  | 'failOnSignatureWithNoMatchingArtifact'
  | 'failOnArtifactWithNoMatchingSignature'
>;

/** A signature paired with the artifact it signs, by `artifactFilename` (spec slave §1.5). */
export interface SignaturePairing {
  pairs: Array<{ artifact: FetchedPath<S3Artifact>; signature: FetchedPath<S3ArtifactSignature> }>;
  unmatchedSignatures: Array<FetchedPath<S3ArtifactSignature>>;
  unsignedArtifacts: Array<FetchedPath<S3Artifact>>;
}

/** Pairs each signature with the artifact whose `filename` is its `artifactFilename` (pure). */
export function pairSignatures(artifacts: ReadonlyArray<FetchedPath<S3Artifact>>, signatures: ReadonlyArray<FetchedPath<S3ArtifactSignature>>): SignaturePairing {
  const pairing: SignaturePairing = { pairs: [], unmatchedSignatures: [], unsignedArtifacts: [] };
  const signed = new Set<FetchedPath<S3Artifact>>();
  for (const signature of signatures) {
    const artifact = artifacts.find((a) => a.artifact.filename === signature.artifact.artifactFilename);
    if (!artifact) {
      pairing.unmatchedSignatures.push(signature);
      continue;
    }
    signed.add(artifact);
    pairing.pairs.push({ artifact, signature });
  }
  pairing.unsignedArtifacts = artifacts.filter((a) => !signed.has(a));
  return pairing;
}

/** The configured command with `{artifactPath}` and `{artifactSignaturePath}` filled in (anywhere in a word); an argv, no shell. */
export function signatureCommand(template: readonly string[], artifactPath: string, signaturePath: string): string[] {
  return template.map((word) => word.replaceAll('{artifactPath}', artifactPath).replaceAll('{artifactSignaturePath}', signaturePath));
}

export interface VerifySignaturesOptions {
  artifacts: ReadonlyArray<FetchedPath<S3Artifact>>;
  signatures: ReadonlyArray<FetchedPath<S3ArtifactSignature>>;
  settings: SignatureSettings;
  sandboxDirectory: string;
  signal: AbortSignal;
  logger: Logger;
}

/**
 * Checks the S3 artifacts' signatures (spec slave §1.5), as the original:
 * nothing to do without signatures; a signature whose artifact is missing,
 * or (when there are signatures) an artifact without one, is a warning unless
 * `failOnSignatureWithNoMatchingArtifact`/`failOnArtifactWithNoMatchingSignature`;
 * each pair runs `artifactSignatureVerificationCommand` (argv, no shell,
 * output appended to `T/executor.gpg.out`), and a non-zero exit (or a command
 * that cannot run) fails the task with "Failed to validate signature for
 * artifact <path>" when `failTaskOnInvalidArtifactSignature`, else warns.
 * A kill stops the running command.
 */
export async function verifySignatures(options: VerifySignaturesOptions): Promise<void> {
  const { settings, logger, signal } = options;
  if (options.signatures.length === 0) {
    if (options.artifacts.length > 0) logger.debug('no artifact signatures given: skipping signature verification');
    return;
  }
  const { pairs, unmatchedSignatures, unsignedArtifacts } = pairSignatures(options.artifacts, options.signatures);
  for (const { artifact } of unmatchedSignatures) {
    const message = `Signature ${artifact.filename} names artifact ${artifact.artifactFilename}, which this task does not have`;
    if (settings.failOnSignatureWithNoMatchingArtifact) throw new ArtifactSignatureError(message);
    logger.warn({ signature: artifact.filename }, message);
  }
  for (const { artifact } of unsignedArtifacts) {
    const message = `Artifact ${artifact.filename} has no signature`;
    if (settings.failOnArtifactWithNoMatchingSignature) throw new ArtifactSignatureError(message);
    logger.warn({ artifact: artifact.filename }, message);
  }
  for (const { artifact, signature } of pairs) {
    signal.throwIfAborted();
    const argv = signatureCommand(settings.artifactSignatureVerificationCommand, artifact.path, signature.path);
    const outcome = await runCommand(argv, join(options.sandboxDirectory, SIGNATURE_OUTPUT_FILE), signal);
    if (outcome === 0) {
      logger.info({ artifact: artifact.path, signature: signature.path }, 'artifact signature verified');
      continue;
    }
    const message = `Failed to validate signature for artifact ${artifact.path}`;
    logger.warn({ argv, outcome, artifact: artifact.path, signature: signature.path }, message);
    if (settings.failTaskOnInvalidArtifactSignature) throw new ArtifactSignatureError(message);
  }
}

/** Runs `argv`, output appended to `outputFile`; resolves with the exit code, the signal, or the spawn error's text. */
async function runCommand(argv: string[], outputFile: string, signal: AbortSignal): Promise<number | string> {
  const [program, ...args] = argv;
  let output = '';
  const outcome = await new Promise<number | string>((resolve) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], signal });
    const collect = (chunk: Buffer) => {
      if (output.length < 64 * 1024) output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', (err) => resolve(`${(err as NodeJS.ErrnoException).code ?? err.message}`));
    child.once('close', (code, killedBy) => resolve(code ?? killedBy ?? 'unknown'));
  });
  signal.throwIfAborted();
  await appendFile(outputFile, `$ ${argv.join(' ')}\n${output}${output.endsWith('\n') || !output ? '' : '\n'}(exit: ${outcome})\n`, { mode: 0o644 });
  return outcome;
}
