export * from './lib/s3-uploader-config';
export * from './lib/s3-uploader';
export * from './lib/uploader-metrics';
export type { OpenFileChecker } from './lib/open-files';
