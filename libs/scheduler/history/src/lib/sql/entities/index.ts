import { DeployHistoryEntity } from './deploy-history.entity';
import { RequestHistoryEntity } from './request-history.entity';
import { TaskHistoryEntity } from './task-history.entity';

export { DeployHistoryEntity, RequestHistoryEntity, TaskHistoryEntity };

export const HISTORY_ENTITIES = [TaskHistoryEntity, RequestHistoryEntity, DeployHistoryEntity];
