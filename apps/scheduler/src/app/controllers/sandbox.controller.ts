import { Readable } from 'node:stream';
import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { SchedulerRuntime } from '@singularity/scheduler-feature';
import type { FastifyReply } from 'fastify';
import { InjectRuntime } from './runtime.token';

@ApiTags('sandbox')
@Controller('api/sandbox')
export class SandboxController {
  constructor(@InjectRuntime() private readonly rt: SchedulerRuntime) {}

  @Get(':taskId/browse') @ApiOperation({ summary: "List a directory of a task's sandbox (SingularitySandbox)" })
  browse(@Param('taskId') taskId: string, @Query('path') path?: string) { return this.rt.sandbox.browse(taskId, path); }

  @Get(':taskId/read') @ApiOperation({ summary: 'Read part of a sandbox file (MesosFileChunkObject: data, offset, nextOffset); grep keeps matching lines' })
  read(@Param('taskId') taskId: string, @Query('path') path?: string, @Query('offset') offset?: string, @Query('length') length?: string, @Query('grep') grep?: string) {
    return this.rt.sandbox.read(taskId, { path, offset, length, grep });
  }
}

/** `/tasks/download` and `/tasks/open`: a sandbox file by agent host name and full path. */
@ApiTags('tasks')
@Controller('api/tasks')
export class TaskFilesController {
  constructor(@InjectRuntime() private readonly rt: SchedulerRuntime) {}

  @Get('download') @ApiOperation({ summary: 'Download a sandbox file (slaveHostname, path)' })
  download(@Query('slaveHostname') host: string | undefined, @Query('path') path: string | undefined, @Res() reply: FastifyReply) {
    return this.send(host, path, reply, 'attachment');
  }

  @Get('open') @ApiOperation({ summary: 'Open a sandbox file in the browser (slaveHostname, path)' })
  open(@Query('slaveHostname') host: string | undefined, @Query('path') path: string | undefined, @Res() reply: FastifyReply) {
    return this.send(host, path, reply, 'inline');
  }

  private async send(host: string | undefined, path: string | undefined, reply: FastifyReply, disposition: 'attachment' | 'inline') {
    const response = await this.rt.sandbox.download(host, path);
    const name = (path ?? 'file').split('/').pop()?.replace(/["\\]/g, '_') ?? 'file';
    void reply
      .header('content-type', disposition === 'inline' ? 'text/plain; charset=utf-8' : 'application/octet-stream')
      .header('content-disposition', `${disposition}; filename="${name}"`)
      .send(Readable.fromWeb(response.body as never));
  }
}
