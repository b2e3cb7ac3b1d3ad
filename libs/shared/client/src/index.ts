export * from './lib/singularity-client';
export * from './lib/singularity-client-error';
