import type { Logger } from '@singularity/node-util';

/** The part of the pino logger the history store uses; any pino logger (or a child of one) fits. */
export type HistoryLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
