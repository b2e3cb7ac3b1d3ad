import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { SchedulerRuntime } from '@singularity/scheduler-feature';
import type { SchedulerConfig } from '../scheduler-config';
import { bool, InjectRuntime, userOf } from './runtime.token';

type H = Record<string, string | undefined>;

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

  @Get('requests/under-provisioned') @ApiOperation({ summary: 'Ids of long-running requests with fewer tasks than instances' })
  underProvisioned() { return this.provisioning().underProvisionedRequestIds; }

  @Get('requests/over-provisioned') @ApiOperation({ summary: 'Ids of long-running requests with more tasks than instances' })
  overProvisioned() { return this.provisioning().overProvisionedRequestIds; }

  private provisioning() {
    return this.rt.read.singularityState({ skipCache: true, includeRequestIds: true, cacheMillis: 0, leader: true, hostname: this.config.hostname, startedAt: this.rt.startedAt });
  }

  @Get('task-reconciliation') @ApiOperation({ summary: 'Figures of the last finished task reconciliation round' })
  reconciliation() { return this.rt.scheduler.reconciler.statistics() ?? {}; }
}

@ApiTags('slaves')
@Controller('api')
export class AgentsController {
  constructor(@InjectRuntime() private readonly rt: SchedulerRuntime) {}

  @Get('slaves') @ApiOperation({ summary: 'Agents (SingularitySlave[]), optionally by state' })
  slaves(@Query('state') state?: string) { return this.rt.agents.list(state); }

  @Get('agents') @ApiOperation({ summary: 'Agents (alias of /slaves)' })
  agents(@Query('state') state?: string) { return this.rt.agents.list(state); }

  @Get('slaves/slave/:agentId') @ApiOperation({ summary: "An agent's state history (SingularityMachineStateHistoryUpdate[])" })
  slaveHistory(@Param('agentId') id: string) { return this.rt.machines.agentHistory(id); }

  @Get('slaves/slave/:agentId/details') @ApiOperation({ summary: 'One agent' })
  slave(@Param('agentId') id: string) { return this.rt.agents.get(id); }

  @HttpCode(200) @Post('slaves/slave/:agentId/decommission') @ApiOperation({ summary: 'Decommission: its tasks are replaced elsewhere, then killed' })
  decommission(@Param('agentId') id: string, @Body() body: unknown, @Headers() h: H) { return this.rt.machines.agentAction(id, 'decommission', body, userOf(h)); }

  @HttpCode(200) @Post('slaves/slave/:agentId/freeze') @ApiOperation({ summary: 'Freeze: no new tasks go there' })
  freeze(@Param('agentId') id: string, @Body() body: unknown, @Headers() h: H) { return this.rt.machines.agentAction(id, 'freeze', body, userOf(h)); }

  @HttpCode(200) @Post('slaves/slave/:agentId/activate') @ApiOperation({ summary: 'Activate a frozen or decommissioned agent' })
  activate(@Param('agentId') id: string, @Body() body: unknown, @Headers() h: H) { return this.rt.machines.agentAction(id, 'activate', body, userOf(h)); }

  @Delete('slaves/slave/:agentId') @ApiOperation({ summary: 'Forget a DEAD or DECOMMISSIONED agent' })
  remove(@Param('agentId') id: string) { return this.rt.machines.deleteAgent(id); }

  @Get('slaves/expiring') @ApiOperation({ summary: 'Agent state changes that revert on a timer (SingularityExpiringMachineState[])' })
  expiring() { return this.rt.machines.expiringStates('agent'); }

  @Delete('slaves/slave/:agentId/expiring') @ApiOperation({ summary: 'Cancel the reverting of an agent state change' })
  cancelExpiring(@Param('agentId') id: string) { return this.rt.machines.cancelExpiring('agent', id); }

  @Get('racks/expiring') @ApiOperation({ summary: 'Rack state changes that revert on a timer' })
  expiringRacks() { return this.rt.machines.expiringStates('rack'); }

  @Delete('racks/rack/:rackId/expiring') @ApiOperation({ summary: 'Cancel the reverting of a rack state change' })
  cancelExpiringRack(@Param('rackId') id: string) { return this.rt.machines.cancelExpiring('rack', id); }

  @Delete('slaves/dead') @ApiOperation({ summary: 'Forget every DEAD agent' })
  removeDead() { return this.rt.machines.deleteDeadAgents(); }

  @Get('racks') @ApiOperation({ summary: 'Racks (SingularityRack[])' })
  racks(@Query('state') state?: string) { return this.rt.agents.racks(state); }

  @Delete('racks/rack/:rackId') @ApiOperation({ summary: 'Forget a DEAD or DECOMMISSIONED rack' })
  removeRack(@Param('rackId') id: string) { return this.rt.machines.deleteRack(id); }

  @Get('racks/rack/:rackId') @ApiOperation({ summary: "A rack's state history" })
  rackHistory(@Param('rackId') id: string) { return this.rt.machines.rackHistory(id); }

  @HttpCode(200) @Post('racks/rack/:rackId/decommission') @ApiOperation({ summary: 'Decommission every agent of the rack' })
  decommissionRack(@Param('rackId') id: string, @Body() body: unknown, @Headers() h: H) { return this.rt.machines.rackAction(id, 'decommission', body, userOf(h)); }

  @HttpCode(200) @Post('racks/rack/:rackId/freeze') @ApiOperation({ summary: 'Freeze every agent of the rack' })
  freezeRack(@Param('rackId') id: string, @Body() body: unknown, @Headers() h: H) { return this.rt.machines.rackAction(id, 'freeze', body, userOf(h)); }

  @HttpCode(200) @Post('racks/rack/:rackId/activate') @ApiOperation({ summary: 'Activate the rack and its agents' })
  activateRack(@Param('rackId') id: string, @Body() body: unknown, @Headers() h: H) { return this.rt.machines.rackAction(id, 'activate', body, userOf(h)); }
}
