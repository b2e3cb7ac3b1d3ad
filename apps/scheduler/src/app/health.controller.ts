import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { SchedulerRuntime } from '@singularity/scheduler-feature';
import { InjectRuntime } from './controllers/runtime.token';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(@InjectRuntime() private readonly rt: SchedulerRuntime) {}

  /**
   * Only a leader serves the full app (a standby answers `/health` itself, with `leader: false`).
   * `writable` is false while ZooKeeper is unreachable: writes get 503 and the loop pauses.
   */
  @Get() @ApiOperation({ summary: 'Liveness and state-store health' })
  health() {
    const broken = this.rt.ctx.state.broken;
    const writable = !broken && !this.rt.ctx.paused?.();
    return { ok: !broken, leader: true, writable, lastTickAt: this.rt.scheduler.lastTickAt, error: broken?.message };
  }
}
