import { isDue, parseCronFile, parseCronLine, parseSchedule, splitCommand, type CronLine } from './cron-lines';

const at = (hour: number, minute: number, day = 15) => new Date(2024, 4, day, hour, minute, 30).getTime(); // local time, as cron
const schedule = (text: string) => {
  const parsed = parseSchedule(text.split(' '));
  if (!parsed) throw new Error(`bad schedule ${text}`);
  return parsed;
};
const line = (text: string): CronLine => {
  const parsed = parseCronLine(text);
  if (!parsed || 'error' in parsed) throw new Error(`not a line: ${JSON.stringify(parsed)}`);
  return parsed.line;
};

describe('cron lines written by the executor (spec slave §1.9)', () => {
  it.each([
    ['* * * * *', [at(10, 0), at(10, 7), at(23, 59)], []],
    ['*/5 * * * *', [at(10, 0), at(10, 5), at(10, 55)], [at(10, 7), at(10, 59)]],
    ['0 * * * *', [at(10, 0), at(0, 0)], [at(10, 1), at(10, 30)]],
    ['25 6 * * *', [at(6, 25)], [at(7, 25), at(6, 24)]],
    ['0 0 1,15 * *', [at(0, 0, 15)], [at(0, 0, 14)]],
  ])('%s fires at the right minutes', (text, due, notDue) => {
    for (const time of due) expect(isDue(schedule(text), time)).toBe(true);
    for (const time of notDue) expect(isDue(schedule(text), time)).toBe(false);
  });

  it('refuses schedules it cannot read', () => {
    for (const text of ['60 * * * *', '*/0 * * * *', '@hourly * * * *', 'a * * * *', '* * * *']) expect(parseSchedule(text.split(' '))).toBeUndefined();
  });

  it('splits the executor lines into argv, quoted paths and cron %-escapes included', () => {
    expect(line('0 * * * * root /usr/sbin/logrotate -f -s /T/logrotate.status /conf/t1')).toEqual({
      schedule: schedule('0 * * * *'),
      scheduleText: '0 * * * *',
      user: 'root',
      argv: ['/usr/sbin/logrotate', '-f', '-s', '/T/logrotate.status', '/conf/t1'],
      discardOutput: false,
    });
    expect(line(`*/5 * * * * root /usr/sbin/logrotate -s '/my sandboxes/it'\\''s/state' '/conf/a\\%b' > /dev/null 2>&1`)).toMatchObject({
      argv: ['/usr/sbin/logrotate', '-s', "/my sandboxes/it's/state", '/conf/a%b'],
      discardOutput: true,
    });
    expect(splitCommand('a "b c\\"d" e\\ f')).toEqual({ argv: ['a', 'b c"d', 'e f'] });
  });

  it('refuses commands that need a shell', () => {
    for (const command of ['a | b', 'a; b', 'a $HOME', 'a `b`', 'a > out', 'a *.log', 'a "$X"', 'a %', "a 'b", 'a "b']) {
      expect(splitCommand(command)).toEqual({ error: expect.any(String) });
    }
    expect(parseCronLine('* * * * * root a && b')).toEqual({ error: expect.stringContaining('without a shell') });
  });

  it('skips blank lines, comments and variables, and numbers the lines of a file', () => {
    const parsed = parseCronFile(['# comment', 'SHELL=/bin/sh', '', '* * * * * root /bin/true', 'garbage'].join('\n'));
    expect(parsed).toEqual([
      { lineNumber: 4, line: expect.objectContaining({ argv: ['/bin/true'] }) },
      { lineNumber: 5, error: expect.any(String) },
    ]);
  });
});
