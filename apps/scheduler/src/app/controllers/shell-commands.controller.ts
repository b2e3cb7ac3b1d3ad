import { Body, Controller, Get, Headers, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HttpShellCommandAgentClient, shellCommandServiceOf, type SchedulerRuntime, type ShellCommandService } from '@singularity/scheduler-feature';
import { InvalidRequestError } from '@singularity/util';
import { InjectRuntime, userOf } from './runtime.token';

/** Shell commands against running tasks (`SingularityShellCommand`; the agents run them, see docs/executor.md). */
@ApiTags('tasks')
@Controller('api/tasks')
export class ShellCommandsController {
  constructor(@InjectRuntime() private readonly rt: SchedulerRuntime) {}

  private get commands(): ShellCommandService {
    return shellCommandServiceOf(this.rt.ctx, () => new HttpShellCommandAgentClient());
  }

  @HttpCode(200) @Post('task/:taskId/command') @ApiOperation({ summary: 'Run a configured shell command against an active task (SingularityShellCommand → SingularityTaskShellCommandRequest)' })
  run(@Param('taskId') taskId: string, @Body() body: unknown, @Headers() h: Record<string, string>) { return this.commands.run(taskId, body, userOf(h)); }

  @Get('task/:taskId/command') @ApiOperation({ summary: "The task's shell commands with their updates (SingularityTaskShellCommandHistory[])" })
  history(@Param('taskId') taskId: string) { return this.commands.history(taskId); }

  @Get('task/:taskId/command/:commandName/:commandTimestamp') @ApiOperation({ summary: 'The updates of one shell command (SingularityTaskShellCommandUpdate[])' })
  updates(@Param('taskId') taskId: string, @Param('commandName') name: string, @Param('commandTimestamp') timestamp: string) {
    if (!/^\d+$/.test(timestamp)) throw new InvalidRequestError(`commandTimestamp: must be a number of milliseconds (got '${timestamp}')`, 'commandTimestamp');
    return this.commands.updates(taskId, name, Number(timestamp));
  }

  @Get('commands/queued') @ApiOperation({ summary: 'Shell commands no agent has taken yet (SingularityTaskShellCommandRequest[])' })
  queued() { return this.commands.queued(); }
}
