import type { DeployState, SingularityDeploy, SingularityDeployMarker, SingularityDeployResult } from '@singularity/models';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { SingularityDeployStatistics } from '../../history.types';
import { epochMillis, ID_COLLATION } from './column-types';

/**
 * One finished deploy. Lists read only the marker and the result; `deploy` and `deploy_statistics` are
 * read for one deploy at a time.
 */
@Entity({ name: 'deploy_history' })
@Index('ix_deploy_history_request_created', ['requestId', 'createdAt'])
@Index('ix_deploy_history_created', ['createdAt'])
export class DeployHistoryEntity {
  @PrimaryColumn({ name: 'request_id', type: 'text', collation: ID_COLLATION, primaryKeyConstraintName: 'pk_deploy_history' })
  requestId!: string;

  @PrimaryColumn({ name: 'deploy_id', type: 'text', collation: ID_COLLATION, primaryKeyConstraintName: 'pk_deploy_history' })
  deployId!: string;

  /** The marker's timestamp: when the deploy was started. */
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMillis })
  createdAt!: number;

  @Column({ name: 'deploy_state', type: 'text', nullable: true })
  deployState!: DeployState | null;

  @Column({ name: 'deploy_marker', type: 'jsonb' })
  deployMarker!: SingularityDeployMarker;

  @Column({ name: 'deploy_result', type: 'jsonb', nullable: true })
  deployResult!: SingularityDeployResult | null;

  @Column({ name: 'deploy', type: 'jsonb', nullable: true })
  deploy!: SingularityDeploy | null;

  @Column({ name: 'deploy_statistics', type: 'jsonb', nullable: true })
  deployStatistics!: SingularityDeployStatistics | null;
}
