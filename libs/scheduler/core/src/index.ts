export * from './lib/settings';
export * from './lib/task-record';
export * from './lib/cleanup-rules';
export * from './lib/instance-numbers';
export * from './lib/pending-queue';
export * from './lib/deploy-check';
export * from './lib/task-launch';
export * from './lib/placement';
