export * from './lib/oom-killer-config';
export * from './lib/oom-decision';
export * from './lib/task-memory';
export * from './lib/scheduler-kill-client';
export * from './lib/oom-killer';
export * from './lib/oom-killer-service';
