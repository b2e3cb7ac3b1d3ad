export * from './lib/state-store.port';
export * from './lib/in-memory-state-store';
