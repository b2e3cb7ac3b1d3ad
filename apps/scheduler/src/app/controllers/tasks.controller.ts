import { Body, Controller, Delete, Get, Headers, Param } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { SchedulerRuntime } from '@singularity/scheduler-feature';
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

  @Get('lbcleanup') @ApiOperation({ summary: 'Tasks waiting for load-balancer removal (none until the load balancer integration)' })
  lbCleanup() { return []; }

  @Get('ids/request/:requestId') @ApiOperation({ summary: "A request's task ids by status (SingularityTaskIdsByStatus)" })
  idsOfRequest(@Param('requestId') requestId: string) { this.rt.requests.find(requestId); return this.rt.read.taskIds(requestId); }

  @Get('task/:taskId/cleanup') @ApiOperation({ summary: "A task's cleanup (SingularityTaskCleanup)" })
  cleanupOf(@Param('taskId') taskId: string) { return this.rt.tasks.cleanupOf(taskId); }

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
  task(@Param('taskId') taskId: string) { return this.rt.tasks.history(taskId); }
}
