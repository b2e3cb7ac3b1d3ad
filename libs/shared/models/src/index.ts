export * from './lib/enums';
export * from './lib/request';
export * from './lib/deploy';
export * from './lib/task-id';
export * from './lib/task-ids';
export * from './lib/task';
export * from './lib/parents';
export * from './lib/agent-protocol';
