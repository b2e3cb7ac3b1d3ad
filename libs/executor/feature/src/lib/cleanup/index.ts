export * from './executor-cleanup';
export * from './executor-cleanup-config';
export * from './cleanup-scheduler';
export * from './leftover-rotations';
