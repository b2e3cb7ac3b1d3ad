export * from './lib/agent';
export * from './lib/agent-config';
export * from './lib/agent-http.server';
export * from './lib/scheduler-link';
export type { TaskPaths, ExecutorProcessRecord } from './lib/control-files';
export * from './lib/sandbox-files';
