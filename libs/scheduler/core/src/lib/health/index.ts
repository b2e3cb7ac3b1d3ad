export * from './healthcheck-settings';
export * from './healthcheck-options';
export * from './healthcheck-result';
export * from './healthcheck-target';
export * from './health-tracker';
