export * from './lib/logger';
export * from './lib/config';
export * from './lib/lifecycle';
export * from './lib/procfs';
export * from './lib/http-json';
export * from './lib/free-port';
export * from './lib/cgroups';
export * from './lib/node-config';
