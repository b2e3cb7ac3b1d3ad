import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { SchedulerRuntime } from '@singularity/scheduler-feature';
import { InjectRuntime } from './runtime.token';

/** Agent ↔ scheduler protocol (libs/shared/models agent-protocol.ts); not part of Singularity's public API. */
@ApiExcludeController()
@Controller('internal/agents')
export class AgentProtocolController {
  constructor(@InjectRuntime() private readonly rt: SchedulerRuntime) {}

  @Post('register') @HttpCode(200)
  register(@Body() body: unknown) { return this.rt.agents.register(body); }

  @Post(':agentId/heartbeat') @HttpCode(200)
  heartbeat(@Param('agentId') agentId: string, @Body() body: unknown) { return this.rt.agents.heartbeat(agentId, body); }

  @Post(':agentId/status-updates') @HttpCode(200)
  statusUpdates(@Param('agentId') agentId: string, @Body() body: unknown) { return this.rt.agents.statusUpdates(agentId, body); }
}
