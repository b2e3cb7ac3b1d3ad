import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, Get, Header, Redirect } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';

const page = readFileSync(join(__dirname, 'ui', 'index.html'), 'utf8');

/** The web UI: a read-only overview page that uses the public API. */
@ApiExcludeController()
@Controller()
export class UiController {
  @Get() @Redirect('/singularity/ui', 302)
  root() { return undefined; }

  @Get('ui') @Header('content-type', 'text/html; charset=utf-8')
  ui() { return page; }
}
