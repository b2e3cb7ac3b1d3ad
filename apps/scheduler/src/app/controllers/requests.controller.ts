import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { SchedulerRuntime } from '@singularity/scheduler-feature';
import { bool, InjectRuntime, userOf } from './runtime.token';

type H = Record<string, string | undefined>;

@ApiTags('requests')
@Controller('api/requests')
export class RequestsController {
  constructor(@InjectRuntime() private readonly rt: SchedulerRuntime) {}

  @Get() @ApiOperation({ summary: 'All requests (SingularityRequestParent[])' })
  all(@Query('requestType') type?: string) { return this.rt.requests.list('all', type); }

  @Get('active') @ApiOperation({ summary: 'Active requests' })
  active(@Query('requestType') type?: string) { return this.rt.requests.list('active', type); }

  @Get('paused') @ApiOperation({ summary: 'Paused requests' })
  paused(@Query('requestType') type?: string) { return this.rt.requests.list('paused', type); }

  @Get('cooldown') @ApiOperation({ summary: 'Requests in system cool-down' })
  cooldown(@Query('requestType') type?: string) { return this.rt.requests.list('cooldown', type); }

  @Get('finished') @ApiOperation({ summary: 'Finished requests' })
  finished(@Query('requestType') type?: string) { return this.rt.requests.list('finished', type); }

  @HttpCode(200) @Post() @ApiOperation({ summary: 'Create or update a request (SingularityRequest → SingularityRequestParent)' })
  save(@Body() body: unknown, @Headers() h: H) { return this.rt.requests.createOrUpdate(body, userOf(h)); }

  @Get('ids') @ApiOperation({ summary: 'Ids of all requests' })
  ids() { return this.rt.requests.ids(); }

  @Get('queued/pending') @ApiOperation({ summary: 'The pending-request queue (SingularityPendingRequest[])' })
  queuedPending() { return this.rt.requests.pendingRequests(); }

  @Get('queued/cleanup') @ApiOperation({ summary: 'Request cleanups in progress (applied at once here, so none wait)' })
  queuedCleanup() { return []; }

  @Get('lbcleanup') @ApiOperation({ summary: 'Requests waiting for load-balancer cleanup (none until the load balancer integration)' })
  lbCleanup() { return []; }

  @Get('crashloops') @ApiOperation({ summary: 'Open crash loops of every request (requestId → CrashLoopInfo[])' })
  crashLoops() { return this.rt.requests.allCrashLoops(); }

  @Get('request/:requestId/crashloops') @ApiOperation({ summary: "A request's open and recently ended crash loops (CrashLoopInfo[])" })
  requestCrashLoops(@Param('requestId') id: string) { return this.rt.requests.crashLoops(id); }

  @Get('request/:requestId/simple') @ApiOperation({ summary: 'A request and its state (SingularityRequestWithState)' })
  simple(@Param('requestId') id: string) { return this.rt.requests.simple(id); }

  @Get('request/:requestId/run/:runId') @ApiOperation({ summary: 'The task id of a run, once launched' })
  runTask(@Param('requestId') id: string, @Param('runId') runId: string) { return this.rt.requests.runTaskId(id, runId); }

  @Get('request/:requestId') @ApiOperation({ summary: 'One request' })
  get(@Param('requestId') id: string) { return this.rt.requests.get(id); }

  @Delete('request/:requestId') @ApiOperation({ summary: 'Delete a request: its tasks are killed, then it is gone' })
  remove(@Param('requestId') id: string, @Body() body: unknown, @Headers() h: H) { return this.rt.requests.delete(id, body, userOf(h)); }

  @HttpCode(200) @Post('request/:requestId/pause') @ApiOperation({ summary: 'Pause: kills tasks (unless killTasks=false) and drops pending ones' })
  pause(@Param('requestId') id: string, @Body() body: unknown, @Headers() h: H) { return this.rt.requests.pause(id, body, userOf(h)); }

  @Delete('request/:requestId/pause') @ApiOperation({ summary: 'Cancel the expiry of a pause (the request stays paused)' })
  cancelPause(@Param('requestId') id: string) { return this.rt.requests.cancelExpiring(id, 'pause'); }

  @Delete('request/:requestId/bounce') @ApiOperation({ summary: 'Stop a bounce in progress' })
  cancelBounce(@Param('requestId') id: string, @Headers() h: H) { return this.rt.requests.cancelBounce(id, userOf(h)); }

  @Delete('request/:requestId/scale') @ApiOperation({ summary: 'Cancel the expiry of a scale (the new count stays)' })
  cancelScale(@Param('requestId') id: string) { return this.rt.requests.cancelExpiring(id, 'scale'); }

  @HttpCode(200) @Post('request/:requestId/unpause') @ApiOperation({ summary: 'Unpause a paused request' })
  unpause(@Param('requestId') id: string, @Body() body: unknown, @Headers() h: H) { return this.rt.requests.unpause(id, body, userOf(h)); }

  @HttpCode(200) @Post('request/:requestId/bounce') @ApiOperation({ summary: 'Replace every task of the active deploy' })
  bounce(@Param('requestId') id: string, @Body() body: unknown, @Headers() h: H) { return this.rt.requests.bounce(id, body, userOf(h)); }

  @HttpCode(200) @Post('request/:requestId/exit-cooldown') @ApiOperation({ summary: 'Leave SYSTEM_COOLDOWN now' })
  exitCooldown(@Param('requestId') id: string, @Body() body: unknown, @Headers() h: H) { return this.rt.requests.exitCooldown(id, body, userOf(h)); }

  @HttpCode(200) @Post('request/:requestId/run') @ApiOperation({ summary: 'Run an ON_DEMAND or SCHEDULED request now (SingularityRunNowRequest)' })
  run(@Param('requestId') id: string, @Body() body: unknown, @Headers() h: H) { return this.rt.requests.run(id, body, userOf(h)); }

  @Put('request/:requestId/scale') @ApiOperation({ summary: 'Change the instance count (SingularityScaleRequest)' })
  scale(@Param('requestId') id: string, @Body() body: unknown, @Headers() h: H, @Query('largeScaleDownAcknowledged') ack?: string) {
    return this.rt.requests.scale(id, body, userOf(h), bool(ack));
  }
}
