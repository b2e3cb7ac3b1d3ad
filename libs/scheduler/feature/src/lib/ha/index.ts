export * from './zookeeper-session';
export * from './leader-election';
export * from './leader-guard';
export * from './request-forwarder';
