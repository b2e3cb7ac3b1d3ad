export * from './lib/log-watcher-config';
export * from './lib/msgpack';
export * from './lib/fluentd-forward';
export * from './lib/offset-store';
export * from './lib/file-tailer';
export * from './lib/log-watcher';
// For tests (also the app's): a forward-protocol server standing in for fluentd.
export * from './testing/fluentd-stand-in';
