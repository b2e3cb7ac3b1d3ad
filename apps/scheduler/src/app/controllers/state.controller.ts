import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { SchedulerRuntime } from '@singularity/scheduler-feature';
import type { SchedulerConfig } from '../scheduler-config';
import { bool, InjectRuntime } from './runtime.token';

export const CONFIG = Symbol('SchedulerConfig');

@ApiTags('state')
@Controller('api/state')
export class StateController {
  constructor(
    @InjectRuntime() private readonly rt: SchedulerRuntime,
    @Inject(CONFIG) private readonly config: SchedulerConfig,
  ) {}

  @Get() @ApiOperation({ summary: 'Cluster counters (SingularityState)' })
  state(@Query('skipCache') skipCache?: string, @Query('includeRequestIds') includeRequestIds?: string) {
    return this.rt.read.singularityState({
      skipCache: bool(skipCache),
      includeRequestIds: bool(includeRequestIds),
      cacheMillis: this.config.cacheStateForMillis,
      leader: true,
      hostname: this.config.hostname,
      startedAt: this.rt.startedAt,
    });
  }
}

@ApiTags('slaves')
@Controller('api')
export class AgentsController {
  constructor(@InjectRuntime() private readonly rt: SchedulerRuntime) {}

  @Get('slaves') @ApiOperation({ summary: 'Agents (SingularitySlave[]), optionally by state' })
  slaves(@Query('state') state?: string) { return this.rt.agents.list(state); }

  @Get('agents') @ApiOperation({ summary: 'Agents (alias of /slaves)' })
  agents(@Query('state') state?: string) { return this.rt.agents.list(state); }

  @Get('slaves/slave/:agentId/details') @ApiOperation({ summary: 'One agent' })
  slave(@Param('agentId') id: string) { return this.rt.agents.get(id); }

  @Get('racks') @ApiOperation({ summary: 'Racks (SingularityRack[])' })
  racks(@Query('state') state?: string) { return this.rt.agents.racks(state); }
}
