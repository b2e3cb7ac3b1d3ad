import { executorConfig } from './executor-config';
import { TaskFailureError } from './executor-errors';
import { cronWord, logrotatePath, planLogrotate, type AdditionalLogFile, type LogrotatePlanInput } from './logrotate-config';

const T = '/sandboxes/app-d1-1-0-host-rack';
const TASK = 'app-d1-1-0-host-rack';

function input(overrides: Partial<LogrotatePlanInput> = {}, settings: Parameters<typeof executorConfig>[0] = {}): LogrotatePlanInput {
  return {
    taskId: TASK,
    sandboxDirectory: T,
    serviceLog: 'service.log',
    frequency: 'DAILY',
    additionalFiles: [],
    logrotateCommand: '/usr/sbin/logrotate',
    settings: executorConfig({
      ...settings,
      executor: { logrotateConfDirectory: '/conf', logrotateHourlyConfDirectory: '/conf/hourly', cronDirectory: '/cron', ...settings.executor },
    }).executor,
    ...overrides,
  };
}

const GLOBALS = (frequency?: string) =>
  ['dateext', 'compress', ...(frequency ? [frequency] : []), 'copytruncate', 'nomail', 'nosharedscripts', 'rotate 20', 'maxage 7', 'notifempty'].join('\n');

const SERVICE_STANZA = `${T}/service.log {\n  dateformat -%Y%m%d%s.log\n  olddir logs\n}`;

describe('planLogrotate (spec slave §1.9)', () => {
  it('writes the spec directives and the service-log stanza into <logrotateConfDirectory>/<taskId>, nothing else at DAILY', () => {
    const plan = planLogrotate(input());
    expect(plan.mainConf).toEqual({ path: `/conf/${TASK}`, content: `${GLOBALS('daily')}\n\n${SERVICE_STANZA}\n` });
    expect(plan.extraConfs).toEqual([]);
    expect(plan.cron).toBeUndefined();
    expect(plan.stateFile).toBe(`${T}/logrotate.status`);
    expect(plan.confPaths).toEqual([`/conf/${TASK}`]);
  });

  it.each([
    ['DAILY', 'daily', undefined],
    ['WEEKLY', 'weekly', undefined],
    ['MONTHLY', 'monthly', undefined],
    ['HOURLY', 'daily', '0 * * * *'],
    ['EVERY_FIVE_MINUTES', 'daily', '*/5 * * * *'],
    ['EVERY_MINUTE', 'daily', '* * * * *'],
  ] as const)('maps %s to `%s`, forced by cron at %s', (frequency, directive, schedule) => {
    const plan = planLogrotate(input({ frequency }));
    expect(plan.mainConf.content.split('\n')).toContain(directive);
    expect(plan.mainConf.content).toContain(SERVICE_STANZA);
    if (schedule) {
      expect(plan.cron).toEqual({ path: `/cron/${TASK}.logrotate`, content: `${schedule} root /usr/sbin/logrotate -f -s ${T}/logrotate.status /conf/${TASK}\n` });
    } else {
      expect(plan.cron).toBeUndefined();
    }
    // The service-log stanza is in exactly one config, whatever the frequency.
    const all = [plan.mainConf, ...plan.extraConfs].map((c) => c.content).join('\n');
    expect(all.split(`${T}/service.log {`)).toHaveLength(2);
  });

  it('puts additional files by their overrides: main config, one config per forced frequency, a size-based one', () => {
    const files: AdditionalLogFile[] = [
      { filename: 'app/gc.log' },
      { filename: 'app/access*.log', extension: 'log', dateformat: '%Y%m%d%H', logrotateFrequencyOverride: 'WEEKLY' },
      { filename: 'app/hourly.log', logrotateFrequencyOverride: 'HOURLY' },
      { filename: 'app/minutely.log', logrotateFrequencyOverride: 'EVERY_MINUTE' },
      { filename: 'app/minutely2.log', logrotateFrequencyOverride: 'EVERY_MINUTE' },
      { filename: 'app/big.log', logrotateSizeOverride: '100M', logrotateFrequencyOverride: 'HOURLY' },
    ];
    const plan = planLogrotate(input({ additionalFiles: files }));
    expect(plan.mainConf.content).toBe(
      [
        GLOBALS('daily'),
        '',
        SERVICE_STANZA,
        '',
        `${T}/app/gc.log {`,
        '  dateformat -%Y%m%d',
        '  missingok',
        '}',
        '',
        `${T}/app/access*.log {`,
        '  weekly',
        '  dateformat -%Y%m%d%H.log',
        '  missingok',
        '}',
        '',
      ].join('\n'),
    );
    expect(plan.extraConfs).toEqual([
      {
        path: `/conf/hourly/${TASK}.EVERY_MINUTE`,
        content: `${GLOBALS('daily')}\n\n${T}/app/minutely.log {\n  dateformat -%Y%m%d\n  missingok\n}\n\n${T}/app/minutely2.log {\n  dateformat -%Y%m%d\n  missingok\n}\n`,
      },
      { path: `/conf/hourly/${TASK}.HOURLY`, content: `${GLOBALS('daily')}\n\n${T}/app/hourly.log {\n  dateformat -%Y%m%d\n  missingok\n}\n` },
      // Size wins over the frequency override; the size-based config has no frequency of its own.
      { path: `/conf/hourly/${TASK}.sizebased`, content: `${GLOBALS()}\n\n${T}/app/big.log {\n  size 100M\n  dateformat -%Y%m%d\n  missingok\n}\n` },
    ]);
    expect(plan.cron?.content).toBe(
      [
        `* * * * * root /usr/sbin/logrotate -f -s ${T}/logrotate.status /conf/hourly/${TASK}.EVERY_MINUTE`,
        `0 * * * * root /usr/sbin/logrotate -f -s ${T}/logrotate.status /conf/hourly/${TASK}.HOURLY`,
        `*/5 * * * * root /usr/sbin/logrotate -s ${T}/logrotate.status /conf/hourly/${TASK}.sizebased`,
        '',
      ].join('\n'),
    );
    expect(plan.confPaths).toEqual([`/conf/${TASK}`, `/conf/hourly/${TASK}.EVERY_MINUTE`, `/conf/hourly/${TASK}.HOURLY`, `/conf/hourly/${TASK}.sizebased`]);
  });

  it('forces the main config and the faster additional ones with a global EVERY_FIVE_MINUTES', () => {
    const plan = planLogrotate(input({ frequency: 'EVERY_FIVE_MINUTES', additionalFiles: [{ filename: 'x.log', logrotateFrequencyOverride: 'HOURLY' }] }));
    expect(plan.cron?.content.split('\n').filter(Boolean)).toEqual([
      `*/5 * * * * root /usr/sbin/logrotate -f -s ${T}/logrotate.status /conf/${TASK}`,
      `0 * * * * root /usr/sbin/logrotate -f -s ${T}/logrotate.status /conf/hourly/${TASK}.HOURLY`,
    ]);
  });

  it('applies the configured names, counts, date formats, compression settings and ignoreLogrotateOutput', () => {
    const plan = planLogrotate(
      input(
        { frequency: 'HOURLY', serviceLog: 'out' },
        {
          executor: {
            logrotateToDirectory: 'rotated',
            logrotateCount: 5,
            logrotateMaxageDays: 2,
            logrotateDateformat: '%Y%m%d-%s',
            logrotateStateFile: 'rotate.state',
            logrotateCompressionSettings: { compressCmd: '/usr/bin/zstd', uncompressCmd: '/usr/bin/unzstd', compressOptions: '-9', compressExt: '.zst' },
            ignoreLogrotateOutput: true,
          },
        },
      ),
    );
    expect(plan.mainConf.content).toBe(
      [
        'dateext',
        'compress',
        'compresscmd /usr/bin/zstd',
        'uncompresscmd /usr/bin/unzstd',
        'compressoptions -9',
        'compressext .zst',
        'daily',
        'copytruncate',
        'nomail',
        'nosharedscripts',
        'rotate 5',
        'maxage 2',
        'notifempty',
        '',
        // No extension: the service log is named "out".
        `${T}/out {`,
        '  dateformat -%Y%m%d-%s',
        '  olddir rotated',
        '}',
        '',
      ].join('\n'),
    );
    expect(plan.cron?.content).toBe(`0 * * * * root /usr/sbin/logrotate -f -s ${T}/rotate.state /conf/${TASK} > /dev/null 2>&1\n`);
  });

  it('quotes paths with spaces for logrotate and for cron, and escapes % for cron', () => {
    const plan = planLogrotate(input({ sandboxDirectory: '/data/my sandboxes/T', frequency: 'HOURLY', logrotateCommand: '/opt/log rotate%/logrotate' }));
    expect(plan.mainConf.content).toContain('"/data/my sandboxes/T/service.log" {');
    expect(plan.cron?.content).toBe(`0 * * * * root '/opt/log rotate\\%/logrotate' -f -s '/data/my sandboxes/T/logrotate.status' /conf/${TASK}\n`);
  });

  it('fails the task on paths logrotate cannot read', () => {
    expect(() => logrotatePath('/a "b"/c')).toThrow(TaskFailureError);
    expect(() => logrotatePath('/a\nb')).toThrow(TaskFailureError);
    expect(() => planLogrotate(input({}, { executor: { logrotateToDirectory: 'my logs' } }))).toThrow(/olddir/);
    expect(logrotatePath('/plain/path-1_2.log')).toBe('/plain/path-1_2.log');
    expect(cronWord('a b')).toBe("'a b'");
  });
});
