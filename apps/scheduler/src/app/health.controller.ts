import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { SchedulerRuntime } from '@singularity/scheduler-feature';
import { InjectRuntime } from './controllers/runtime.token';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(@InjectRuntime() private readonly rt: SchedulerRuntime) {}

  @Get() @ApiOperation({ summary: 'Liveness and state-store health' })
  health() {
    const broken = this.rt.ctx.state.broken;
    return { ok: !broken, leader: true, lastTickAt: this.rt.scheduler.lastTickAt, error: broken?.message };
  }
}
