import type { S3Artifact, S3ArtifactSignature } from '@singularity/models';
import { pairSignatures, signatureCommand, type FetchedPath } from './artifact-signatures';

const artifact = (filename: string): FetchedPath<S3Artifact> => ({ artifact: { filename, s3Bucket: 'b', s3ObjectKey: filename }, path: `/cache/${filename}` });
const signature = (filename: string, artifactFilename: string): FetchedPath<S3ArtifactSignature> => ({
  artifact: { filename, s3Bucket: 'b', s3ObjectKey: filename, artifactFilename },
  path: `/cache/${filename}`,
});

describe('pairSignatures', () => {
  it('pairs by artifactFilename and reports what is left over on either side', () => {
    const a = artifact('a.tgz');
    const b = artifact('b.tgz');
    const sigA = signature('a.tgz.asc', 'a.tgz');
    const stray = signature('c.tgz.asc', 'c.tgz');
    expect(pairSignatures([a, b], [sigA, stray])).toEqual({ pairs: [{ artifact: a, signature: sigA }], unmatchedSignatures: [stray], unsignedArtifacts: [b] });
  });
});

describe('signatureCommand', () => {
  it('fills in both paths anywhere in a word, without a shell', () => {
    expect(signatureCommand(['/usr/bin/gpg', '--verify', '{artifactSignaturePath}', '--data={artifactPath}'], '/c/a b', '/c/a b.asc')).toEqual([
      '/usr/bin/gpg',
      '--verify',
      '/c/a b.asc',
      '--data=/c/a b',
    ]);
  });
});
