export * from './lib/state-store.port';
export * from './lib/state-store.errors';
export * from './lib/in-memory-state-store';
export * from './lib/embedded-state-store';
export * from './lib/state-store.contract';
export * from './lib/zookeeper-state-store';
export { ZooKeeperConnection, ZooKeeperError, ZK, type ZooKeeperConnectionOptions, type ConnectionState, type CreateMode, type ZnodeStat } from './lib/zookeeper-client';
