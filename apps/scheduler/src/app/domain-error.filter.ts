import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import { InvalidIdError } from '@singularity/models';
import type { Logger } from '@singularity/node-util';
import { ConflictError, DomainError } from '@singularity/util';
import type { FastifyReply } from 'fastify';

/**
 * Maps errors to responses: domain errors carry their status (400/404/409/429/503)
 * and a plain-text message, as the original API does; anything else is a 500
 * that is logged with its stack.
 */
@Catch()
export class DomainErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (error instanceof ConflictError && error.body !== undefined) {
      void reply.status(409).type('application/json').send(JSON.stringify(error.body));
      return;
    }
    if (error instanceof DomainError) {
      void reply.status(error.status).type('text/plain; charset=utf-8').send(error.message);
      return;
    }
    if (error instanceof InvalidIdError) {
      void reply.status(400).type('text/plain; charset=utf-8').send(error.message);
      return;
    }
    if (error instanceof HttpException) {
      const response = error.getResponse();
      const message = typeof response === 'string' ? response : ((response as { message?: unknown }).message ?? error.message);
      void reply.status(error.getStatus()).type('text/plain; charset=utf-8').send(Array.isArray(message) ? message.join('; ') : String(message));
      return;
    }
    this.logger.error({ err: error }, 'unhandled error in request');
    void reply.status(500).type('text/plain; charset=utf-8').send(`Internal error: ${(error as Error)?.message ?? String(error)}`);
  }
}
