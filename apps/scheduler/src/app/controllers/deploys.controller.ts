import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { SchedulerRuntime } from '@singularity/scheduler-feature';
import { InjectRuntime, userOf } from './runtime.token';

@ApiTags('deploys')
@Controller('api/deploys')
export class DeploysController {
  constructor(@InjectRuntime() private readonly rt: SchedulerRuntime) {}

  @HttpCode(200) @Post() @ApiOperation({ summary: 'Start a deploy (SingularityDeployRequest → SingularityRequestParent)' })
  deploy(@Body() body: unknown, @Headers() h: Record<string, string>) { return this.rt.deploys.deploy(body, userOf(h)); }

  @Get('pending') @ApiOperation({ summary: 'Deploys in progress (SingularityPendingDeploy[])' })
  pending() { return this.rt.deploys.pending(); }

  @HttpCode(200) @Post('update') @ApiOperation({ summary: "Set the current step's target of a pending deploy (SingularityUpdatePendingDeployRequest)" })
  update(@Body() body: unknown, @Headers() h: Record<string, string>) { return this.rt.deploys.update(body, userOf(h)); }

  @Delete('deploy/:deployId/request/:requestId') @ApiOperation({ summary: 'Cancel the pending deploy' })
  cancel(@Param('deployId') deployId: string, @Param('requestId') requestId: string, @Headers() h: Record<string, string>) {
    return this.rt.deploys.cancel(requestId, deployId, userOf(h));
  }
}
