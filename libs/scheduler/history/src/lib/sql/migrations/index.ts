import { CreateHistoryTables1732320000000 } from './1732320000000-create-history-tables';

/** Every migration, oldest first. TypeORM records the applied ones in `history_migrations`. */
export const HISTORY_MIGRATIONS = [CreateHistoryTables1732320000000];

export const HISTORY_MIGRATIONS_TABLE = 'history_migrations';
