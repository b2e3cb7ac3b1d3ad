export * from './lib/scheduler-context';
export * from './lib/scheduler-state';
export * from './lib/agent-gateway';
export * from './lib/request-events';
export * from './lib/task-scheduler';
export * from './lib/read-models';
export * from './lib/request.service';
export * from './lib/deploy.service';
export * from './lib/task.service';
export * from './lib/task-statistics.service';
export * from './lib/agent.service';
export * from './lib/scheduler-runtime';
export * from './lib/webhooks';
export * from './lib/load-balancer';
// High availability: leader election, standby forwarding, the leader's safety guard (docs/high-availability.md).
export * from './lib/ha';
// Test support (used by specs only): the harness of conventions §10 and a recording gateway.
export * from './lib/scheduler.harness';
export * from './lib/health';
// Shell commands against running tasks (/tasks/task/{taskId}/command).
export * from './lib/shell-commands';
