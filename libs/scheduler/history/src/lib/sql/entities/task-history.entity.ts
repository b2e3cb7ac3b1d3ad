import type { ExtendedTaskState } from '@singularity/models';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { SingularityTaskHistory } from '../../history.types';
import { epochMillis, ID_COLLATION } from './column-types';

/**
 * One finished task: the searchable columns plus the full `SingularityTaskHistory` as JSONB. A bytes purge
 * sets `task_history` to NULL and keeps the row, so searches still list the task.
 * The schema is made by the migrations in `../migrations`; these decorators must describe the same thing
 * (a spec checks that TypeORM would change nothing).
 */
@Entity({ name: 'task_history' })
@Index('ix_task_history_request_started', ['requestId', 'startedAt'])
@Index('ix_task_history_request_updated', ['requestId', 'updatedAt'])
@Index('ix_task_history_request_deploy', ['requestId', 'deployId', 'startedAt'])
@Index('ix_task_history_request_run', ['requestId', 'runId'])
@Index('ix_task_history_host', ['host', 'startedAt'])
@Index('ix_task_history_status', ['lastTaskStatus', 'startedAt'])
@Index('ix_task_history_started', ['startedAt'])
@Index('ix_task_history_updated', ['updatedAt'])
export class TaskHistoryEntity {
  @PrimaryColumn({ name: 'task_id', type: 'text', collation: ID_COLLATION, primaryKeyConstraintName: 'pk_task_history' })
  taskId!: string;

  @Column({ name: 'request_id', type: 'text', collation: ID_COLLATION })
  requestId!: string;

  @Column({ name: 'deploy_id', type: 'text', collation: ID_COLLATION })
  deployId!: string;

  @Column({ name: 'run_id', type: 'text', collation: ID_COLLATION, nullable: true })
  runId!: string | null;

  @Column({ name: 'host', type: 'text', collation: ID_COLLATION })
  host!: string;

  @Column({ name: 'last_task_status', type: 'text', nullable: true })
  lastTaskStatus!: ExtendedTaskState | null;

  @Column({ name: 'started_at', type: 'bigint', transformer: epochMillis })
  startedAt!: number;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMillis })
  updatedAt!: number;

  @Column({ name: 'task_history', type: 'jsonb', nullable: true })
  history!: SingularityTaskHistory | null;
}
