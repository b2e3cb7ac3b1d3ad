import type { RequestHistoryType, SingularityRequest } from '@singularity/models';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { epochMillis, ID_COLLATION } from './column-types';

/** One request history event, keyed by (request, time, type) like the live copy (spec §1 Read models). */
@Entity({ name: 'request_history' })
@Index('ix_request_history_created', ['createdAt'])
export class RequestHistoryEntity {
  @PrimaryColumn({ name: 'request_id', type: 'text', collation: ID_COLLATION, primaryKeyConstraintName: 'pk_request_history' })
  requestId!: string;

  @PrimaryColumn({ name: 'created_at', type: 'bigint', transformer: epochMillis, primaryKeyConstraintName: 'pk_request_history' })
  createdAt!: number;

  @PrimaryColumn({ name: 'event_type', type: 'text', collation: ID_COLLATION, primaryKeyConstraintName: 'pk_request_history' })
  eventType!: RequestHistoryType;

  @Column({ name: 'f_user', type: 'text', nullable: true })
  user!: string | null;

  @Column({ name: 'message', type: 'text', nullable: true })
  message!: string | null;

  @Column({ name: 'request', type: 'jsonb' })
  request!: SingularityRequest;
}
