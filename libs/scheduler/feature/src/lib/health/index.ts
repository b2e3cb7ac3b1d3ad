export * from './timers.port';
export * from './http-health-checker';
// Test support (used by specs only): timers that fire when the test advances them.
export * from './manual-timers';
