export * from './lib/state-store.port';
export * from './lib/state-store.errors';
export * from './lib/in-memory-state-store';
export * from './lib/embedded-state-store';
export * from './lib/state-store.contract';
