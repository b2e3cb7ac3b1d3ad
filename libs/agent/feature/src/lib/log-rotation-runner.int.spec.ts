import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { tempDir, type TempDir } from '@singularity/testing';
import { ManualClock } from '@singularity/util';
import { testLogger } from '../testing/agent-test-kit';
import { LogRotationRunner, resolveProgram } from './log-rotation-runner';

/**
 * The agent's stand-in for host cron, with the real logrotate and a manual
 * clock: the test says what time it is and calls tick().
 */
describe('LogRotationRunner with the real logrotate', () => {
  let dir: TempDir;
  let cronDir: string;
  let confDir: string;
  let sandbox: string;
  let logrotate: string;

  beforeEach(async () => {
    dir = await tempDir('log-rotation-runner-');
    cronDir = join(dir.path, 'cron.d');
    confDir = join(dir.path, 'logrotate.d');
    sandbox = join(dir.path, 'sand box', 'T');
    for (const d of [cronDir, confDir, join(sandbox, 'logs')]) mkdirSync(d, { recursive: true });
    logrotate = await resolveProgram('logrotate');
  });
  afterEach(() => dir.cleanup());

  /** A task's main config the way the executor writes it (DAILY, service.log → logs/). */
  const writeConf = (name: string) => {
    const conf = join(confDir, name);
    writeFileSync(
      conf,
      ['dateext', 'compress', 'daily', 'copytruncate', 'nomail', 'rotate 20', 'maxage 7', 'notifempty', '', `"${sandbox}/service.log" {`, '  dateformat -%Y%m%d%s.log', '  olddir logs', '}', ''].join('\n'),
      { mode: 0o644 },
    );
    return conf;
  };
  const rotated = () => readdirSync(join(sandbox, 'logs')).filter((f) => f.endsWith('.gz'));
  const runner = (clock: ManualClock) =>
    new LogRotationRunner(
      { cronDirectory: cronDir, logrotateConfDirectory: confDir, logrotateCommand: 'logrotate', dailyStateFile: join(dir.path, 'daily.status'), dailyMarkerFile: join(dir.path, 'daily.last') },
      testLogger(),
      clock,
    );
  const local = (hour: number, minute: number, day = 15) => new Date(2024, 4, day, hour, minute, 1).getTime();

  it('runs a cron line in the minute it is due, and not in the others', async () => {
    const conf = writeConf('t1');
    // The executor's forced HOURLY rotation, with its quoting.
    writeFileSync(join(cronDir, 't1.logrotate'), `0 * * * * root ${logrotate} -f -s '${sandbox}/logrotate.status' ${conf} > /dev/null 2>&1\n`);
    writeFileSync(join(sandbox, 'service.log'), 'first\n');
    const clock = new ManualClock(local(10, 30));
    const cron = runner(clock);
    writeFileSync(join(dir.path, 'daily.last'), `${clock.now()}\n`); // the daily run is not due

    expect(await cron.tick()).toEqual([]);
    clock.set(local(10, 59));
    expect(await cron.tick()).toEqual([]);
    expect(rotated()).toEqual([]);

    clock.set(local(11, 0));
    const runs = await cron.tick();
    expect(runs).toEqual([{ source: `${join(cronDir, 't1.logrotate')}:1`, argv: [logrotate, '-f', '-s', `${sandbox}/logrotate.status`, conf], exitCode: 0, output: '' }]);
    expect(rotated()).toHaveLength(1);
    expect(gunzipSync(readFileSync(join(sandbox, 'logs', rotated()[0]))).toString()).toBe('first\n');
    // The same minute again does nothing.
    expect(await cron.tick()).toEqual([]);
  });

  it('catches up on a minute a late tick skipped, once', async () => {
    const conf = writeConf('t2');
    writeFileSync(join(cronDir, 't2.logrotate'), `*/5 * * * * root ${logrotate} -f -s '${sandbox}/logrotate.status' ${conf}\n`);
    writeFileSync(join(sandbox, 'service.log'), 'x\n');
    const clock = new ManualClock(local(9, 3));
    const cron = runner(clock);
    writeFileSync(join(dir.path, 'daily.last'), `${clock.now()}\n`);
    expect(await cron.tick()).toEqual([]);
    clock.set(local(9, 6)); // the tick of 9:05 never came
    expect((await cron.tick()).map((r) => r.exitCode)).toEqual([0]);
    expect(rotated()).toHaveLength(1);
  });

  it('refuses lines that run another program, and lines that need a shell', async () => {
    writeFileSync(join(cronDir, 'evil.logrotate'), [`* * * * * root /bin/touch ${dir.path}/pwned`, `* * * * * root ${logrotate} -f x; touch ${dir.path}/pwned2`, ''].join('\n'));
    const clock = new ManualClock(local(12, 0));
    const cron = runner(clock);
    writeFileSync(join(dir.path, 'daily.last'), `${clock.now()}\n`);
    expect(await cron.tick()).toEqual([]);
    expect(existsSync(join(dir.path, 'pwned'))).toBe(false);
    expect(existsSync(join(dir.path, 'pwned2'))).toBe(false);
  });

  it('rotates every config once a day, and remembers the last daily run across restarts', async () => {
    writeConf('t3');
    mkdirSync(join(confDir, 'hourly')); // the executors' hourly directory is not a config
    writeFileSync(join(sandbox, 'service.log'), 'day one\n');
    const clock = new ManualClock(local(6, 25));
    // logrotate rotates a log it has never seen only once its state says a day has passed.
    writeFileSync(join(dir.path, 'daily.status'), `logrotate state -- version 2\n"${sandbox}/service.log" 2024-5-1-0:0:0\n`);

    const runs = await runner(clock).tick();
    expect(runs).toEqual([expect.objectContaining({ source: 'daily', argv: [logrotate, '-s', join(dir.path, 'daily.status'), join(confDir, 't3')], exitCode: 0 })]);
    expect(rotated()).toHaveLength(1);

    // A new runner (an agent restart) an hour later: not a day yet.
    writeFileSync(join(sandbox, 'service.log'), 'day two\n');
    clock.advance(60 * 60 * 1000);
    expect(await runner(clock).tick()).toEqual([]);
    clock.advance(24 * 60 * 60 * 1000);
    expect((await runner(clock).tick()).map((r) => r.source)).toEqual(['daily']);
  });
});
