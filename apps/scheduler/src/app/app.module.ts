import { Module, type DynamicModule } from '@nestjs/common';
import type { SchedulerRuntime } from '@singularity/scheduler-feature';
import { DeploysController } from './controllers/deploys.controller';
import { AgentProtocolController } from './controllers/internal.controller';
import { RequestsController } from './controllers/requests.controller';
import { RUNTIME } from './controllers/runtime.token';
import { AgentsController, CONFIG, StateController } from './controllers/state.controller';
import { HistoryController, TasksController, TrackController } from './controllers/tasks.controller';
import { HealthController } from './health.controller';
import { UiController } from './ui.controller';
import { WebhooksController } from './controllers/webhooks.controller';
import { SandboxController, TaskFilesController } from './controllers/sandbox.controller';
import { ShellCommandsController } from './controllers/shell-commands.controller';
import type { SchedulerConfig } from './scheduler-config';

@Module({})
export class AppModule {
  static with(runtime: SchedulerRuntime, config: SchedulerConfig): DynamicModule {
    return {
      module: AppModule,
      controllers: [RequestsController, DeploysController, TasksController, StateController, AgentsController, AgentProtocolController, HealthController, HistoryController, TrackController, UiController, WebhooksController, SandboxController, TaskFilesController, ShellCommandsController],
      providers: [
        { provide: RUNTIME, useValue: runtime },
        { provide: CONFIG, useValue: config },
      ],
    };
  }
}
