import { Body, Controller, Delete, Get, Header, Headers, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { SchedulerRuntime } from '@singularity/scheduler-feature';
import { InjectRuntime, userOf } from './runtime.token';

type H = Record<string, string | undefined>;

/** `CREATED`, `DELETED`… go out as JSON strings (`"CREATED"`), as the original's enum answers do. */
const json = (value: string) => JSON.stringify(value);

@ApiTags('webhooks')
@Controller('api/webhooks')
export class WebhooksController {
  constructor(@InjectRuntime() private readonly rt: SchedulerRuntime) {}

  @Get() @ApiOperation({ summary: 'All webhooks (SingularityWebhook[])' })
  list() { return this.rt.webhooks.list(); }

  @HttpCode(200) @Post() @Header('Content-Type', 'application/json') @ApiOperation({ summary: 'Add a webhook (SingularityWebhook → CREATED | EXISTED); its id is {TYPE}-{url-encoded uri}' })
  add(@Body() body: unknown, @Headers() h: H) { return this.rt.webhooks.add(body, userOf(h)).then(json); }

  @Delete() @Header('Content-Type', 'application/json') @ApiOperation({ summary: 'Delete a webhook and its queued updates (DELETED | DIDNT_EXIST)' })
  remove(@Query('webhookId') id?: string) { return this.rt.webhooks.remove(id).then(json); }

  @Get('summary') @ApiOperation({ summary: 'Each webhook with its queue size (SingularityWebhookSummary[])' })
  summary() { return this.rt.webhooks.summary(); }

  @Get('task') @ApiOperation({ summary: 'Task updates queued for a webhook (SingularityTaskHistoryUpdate[])' })
  task(@Query('webhookId') id?: string) { return this.rt.webhooks.queuedTaskUpdates(id); }

  @Get('request') @ApiOperation({ summary: 'Request updates queued for a webhook (SingularityRequestHistory[])' })
  request(@Query('webhookId') id?: string) { return this.rt.webhooks.queuedRequestUpdates(id); }

  @Get('deploy') @ApiOperation({ summary: 'Deploy updates queued for a webhook (SingularityDeployUpdate[])' })
  deploy(@Query('webhookId') id?: string) { return this.rt.webhooks.queuedDeployUpdates(id); }

  @Delete(':webhookId') @Header('Content-Type', 'application/json') @ApiOperation({ summary: 'Delete a webhook (deprecated path form)' })
  removeByPath(@Param('webhookId') id: string) { return this.rt.webhooks.remove(id).then(json); }

  @Get('task/:webhookId') @ApiOperation({ summary: 'Queued task updates (deprecated path form)' })
  taskByPath(@Param('webhookId') id: string) { return this.rt.webhooks.queuedTaskUpdates(id); }

  @Get('request/:webhookId') @ApiOperation({ summary: 'Queued request updates (deprecated path form)' })
  requestByPath(@Param('webhookId') id: string) { return this.rt.webhooks.queuedRequestUpdates(id); }

  @Get('deploy/:webhookId') @ApiOperation({ summary: 'Queued deploy updates (deprecated path form)' })
  deployByPath(@Param('webhookId') id: string) { return this.rt.webhooks.queuedDeployUpdates(id); }
}
