export * from './lib/factories';
export * from './lib/reference-schema';
export * from './lib/eventually';
export * from './lib/net';
export * from './lib/temp-dir';
export * from './lib/spawn-ts';
export * from './lib/repo-paths';
