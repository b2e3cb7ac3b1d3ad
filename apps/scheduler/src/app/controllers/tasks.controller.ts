import { Body, Controller, Delete, Get, Headers, Param, Query } from '@nestjs/common';
import { parseTaskId, type ExtendedTaskState } from '@singularity/models';
import { InvalidRequestError } from '@singularity/util';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { TaskStatisticsService, type SchedulerRuntime } from '@singularity/scheduler-feature';
import { InjectRuntime, userOf } from './runtime.token';

@ApiTags('tasks')
@Controller('api/tasks')
export class TasksController {
  constructor(@InjectRuntime() private readonly rt: SchedulerRuntime) {}

  @Get('active') @ApiOperation({ summary: 'Active tasks (SingularityTask[])' })
  active() { return this.rt.tasks.active(); }

  @Get('active/ids') @ApiOperation({ summary: 'Ids of active tasks' })
  activeIds() { return this.rt.tasks.active().map((t) => t.taskId); }

  @Get('active/slave/:agentId') @ApiOperation({ summary: 'Active tasks on one agent' })
  onSlave(@Param('agentId') agentId: string) { return this.rt.tasks.activeOnAgent(agentId); }

  @Get('active/agent/:agentId') @ApiOperation({ summary: 'Active tasks on one agent' })
  onAgent(@Param('agentId') agentId: string) { return this.rt.tasks.activeOnAgent(agentId); }

  @Get('active/slave/:agentId/ids') @ApiOperation({ summary: 'Ids of the active tasks on one agent' })
  idsOnSlave(@Param('agentId') agentId: string) { return this.rt.tasks.activeOnAgent(agentId).map((t) => t.taskId); }

  @Get('active/agent/:agentId/ids') @ApiOperation({ summary: 'Ids of the active tasks on one agent' })
  idsOnAgent(@Param('agentId') agentId: string) { return this.rt.tasks.activeOnAgent(agentId).map((t) => t.taskId); }

  @Get('scheduled') @ApiOperation({ summary: 'Pending tasks with their request and deploy (SingularityTaskRequest[])' })
  scheduled() { return this.rt.tasks.scheduled(); }

  @Get('scheduled/request/:requestId') @ApiOperation({ summary: 'Pending tasks of one request' })
  scheduledOf(@Param('requestId') requestId: string) { return this.rt.tasks.scheduled(requestId); }

  @Get('scheduled/ids') @ApiOperation({ summary: 'Ids of pending tasks' })
  scheduledIds() { return this.rt.tasks.scheduled().map((t) => t.pendingTask.pendingTaskId); }

  @Get('scheduled/task/:pendingTaskId') @ApiOperation({ summary: 'One pending task (SingularityTaskRequest)' })
  scheduledTask(@Param('pendingTaskId') id: string) { return this.rt.tasks.scheduledTask(id); }

  @Delete('scheduled/task/:pendingTaskId') @ApiOperation({ summary: 'Drop a pending run of an ON_DEMAND request' })
  deleteScheduled(@Param('pendingTaskId') id: string) { return this.rt.tasks.deleteScheduled(id); }

  @Get('cleaning') @ApiOperation({ summary: 'Cleanups in force (SingularityTaskCleanup[])' })
  cleaning() { return this.rt.tasks.cleaning(); }

  @Get('killed') @ApiOperation({ summary: 'Tasks told to die that have not yet (SingularityKilledTaskIdRecord[])' })
  killed() { return this.rt.tasks.killed(); }

  @Get('lbcleanup') @ApiOperation({ summary: 'Dead tasks still to be removed from the load balancer (SingularityTaskId[])' })
  lbCleanup() { return this.rt.scheduler.lb.cleanupTaskIds().map((id) => parseTaskId(id)); }

  @Get('ids/request/:requestId') @ApiOperation({ summary: "A request's task ids by status (SingularityTaskIdsByStatus)" })
  idsOfRequest(@Param('requestId') requestId: string) { this.rt.requests.find(requestId); return this.rt.read.taskIds(requestId); }

  @Get('task/:taskId/cleanup') @ApiOperation({ summary: "A task's cleanup (SingularityTaskCleanup)" })
  cleanupOf(@Param('taskId') taskId: string) { return this.rt.tasks.cleanupOf(taskId); }

  @Get('task/:taskId/statistics') @ApiOperation({ summary: "An active task's resource usage from its cgroup, via its agent (MesosTaskStatisticsObject)" })
  statistics(@Param('taskId') taskId: string) { return new TaskStatisticsService(this.rt.ctx).statistics(taskId); }

  @Get('task/:taskId') @ApiOperation({ summary: 'One active task' })
  get(@Param('taskId') taskId: string) { return this.rt.tasks.get(taskId); }

  @Delete('task/:taskId') @ApiOperation({ summary: 'Kill a task (SingularityKillTaskRequest → SingularityTaskCleanup)' })
  kill(@Param('taskId') taskId: string, @Body() body: unknown, @Headers() h: Record<string, string>) { return this.rt.tasks.kill(taskId, body, userOf(h)); }
}

@ApiTags('track')
@Controller('api/track')
export class TrackController {
  constructor(@InjectRuntime() private readonly rt: SchedulerRuntime) {}

  @Get('task/:taskId') @ApiOperation({ summary: 'Where a task is (SingularityTaskState)' })
  task(@Param('taskId') taskId: string) { return this.rt.tasks.trackTask(taskId); }

  @Get('run/:requestId/:runId') @ApiOperation({ summary: 'Where a run is (SingularityTaskState)' })
  run(@Param('requestId') requestId: string, @Param('runId') runId: string) { return this.rt.tasks.trackRun(requestId, runId); }
}

@ApiTags('history')
@Controller('api/history')
export class HistoryController {
  constructor(@InjectRuntime() private readonly rt: SchedulerRuntime) {}

  @Get('task/:taskId') @ApiOperation({ summary: 'A task with all its updates (SingularityTaskHistory)' })
  task(@Param('taskId') taskId: string) { return this.rt.history.task(taskId); }

  @Get('tasks') @ApiOperation({ summary: 'Finished tasks, filtered and paged (SingularityTaskIdHistory[])' })
  async tasks(@Query() q: Q) { return (await this.rt.history.tasks(taskFilter(q), paging(q))).items; }

  @Get('tasks/withmetadata') @ApiOperation({ summary: 'Finished tasks, filtered, with paging data (SingularityPaginatedResponse)' })
  tasksWithMetadata(@Query() q: Q) { return this.rt.history.tasksPaginated(taskFilter(q), paging(q)); }

  @Get('request/:requestId/tasks') @ApiOperation({ summary: "A request's finished tasks (SingularityTaskIdHistory[])" })
  async requestTasks(@Param('requestId') id: string, @Query() q: Q) { return (await this.rt.history.tasks({ ...taskFilter(q), requestId: id }, paging(q))).items; }

  @Get('request/:requestId/tasks/withmetadata') @ApiOperation({ summary: "A request's finished tasks with paging data" })
  requestTasksWithMetadata(@Param('requestId') id: string, @Query() q: Q) { return this.rt.history.tasksPaginated({ ...taskFilter(q), requestId: id }, paging(q)); }

  @Get('request/:requestId/tasks/active') @ApiOperation({ summary: "A request's active tasks (SingularityTaskIdHistory[])" })
  requestActiveTasks(@Param('requestId') id: string) { return this.rt.history.activeTasks(id); }

  @Get('request/:requestId/deploy/:deployId/tasks/active') @ApiOperation({ summary: "A deploy's active tasks" })
  deployActiveTasks(@Param('requestId') id: string, @Param('deployId') deployId: string) { return this.rt.history.activeTasks(id, deployId); }

  @Get('request/:requestId/deploy/:deployId/tasks/inactive') @ApiOperation({ summary: "A deploy's finished tasks" })
  async deployInactiveTasks(@Param('requestId') id: string, @Param('deployId') deployId: string, @Query() q: Q) {
    return (await this.rt.history.tasks({ requestId: id, deployId }, paging(q))).items;
  }

  @Get('request/:requestId/run/:runId') @ApiOperation({ summary: 'The task history of a run (SingularityTaskHistory)' })
  run(@Param('requestId') id: string, @Param('runId') runId: string) { return this.rt.history.run(id, runId); }

  @Get('request/:requestId/requests') @ApiOperation({ summary: "A request's history events (SingularityRequestHistory[])" })
  requestHistory(@Param('requestId') id: string, @Query() q: Q) { return this.rt.history.requestHistory(id, paging(q)); }

  @Get('requests/search') @ApiOperation({ summary: 'Request ids starting with requestIdLike' })
  search(@Query('requestIdLike') like: string | undefined, @Query() q: Q) { return this.rt.history.searchRequestIds(like ?? '', paging(q)); }

  @Get('request/:requestId/deploys') @ApiOperation({ summary: "A request's deploys (SingularityDeployHistory[])" })
  deploys(@Param('requestId') id: string, @Query() q: Q) { return this.rt.history.deploys(id, paging(q)); }

  @Get('request/:requestId/deploy/:deployId') @ApiOperation({ summary: 'One deploy (SingularityDeployHistory)' })
  deploy(@Param('requestId') id: string, @Param('deployId') deployId: string) { return this.rt.history.deploy(id, deployId); }
}

type Q = Record<string, string | undefined>;

function num(q: Q, key: string): number | undefined {
  const v = q[key];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidRequestError(`${key}: must be a number (got '${v}')`, key);
  return n;
}

function paging(q: Q) {
  return { count: num(q, 'count'), page: num(q, 'page') };
}

function taskFilter(q: Q) {
  const order = q.orderDirection?.toUpperCase();
  if (order !== undefined && order !== 'ASC' && order !== 'DESC') throw new InvalidRequestError(`orderDirection: must be ASC or DESC (got '${q.orderDirection}')`, 'orderDirection');
  return {
    requestId: q.requestId,
    deployId: q.deployId,
    runId: q.runId,
    host: q.host,
    lastTaskStatus: q.lastTaskStatus as ExtendedTaskState | undefined,
    startedBefore: num(q, 'startedBefore'),
    startedAfter: num(q, 'startedAfter'),
    updatedBefore: num(q, 'updatedBefore'),
    updatedAfter: num(q, 'updatedAfter'),
    orderDirection: order as 'ASC' | 'DESC' | undefined,
  };
}
