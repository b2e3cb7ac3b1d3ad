export * from './lib/errors';
export * from './lib/clock';
export * from './lib/random';
export * from './lib/shell-quote';
