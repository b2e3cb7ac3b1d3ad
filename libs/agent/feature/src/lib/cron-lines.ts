/**
 * The `/etc/cron.d`-style lines executors write for their tasks' forced
 * rotations (spec slave §1.9), read by the agent's {@link LogRotationRunner}
 * in place of host cron:
 *
 *   <minute> <hour> <day of month> <month> <day of week> <user> <command> [> /dev/null 2>&1]
 *
 * The command is split into words the way sh would split what the executor
 * writes (single and double quotes, backslashes, cron's `\%`), and then run
 * without a shell. Anything a shell would treat specially beyond that (pipes,
 * `;`, `$`, globs, other redirections) makes the line unusable: it is refused,
 * not guessed at.
 */

/** One field of a schedule: the values it allows, or every value. */
type CronField = ReadonlySet<number> | 'any';

export interface CronSchedule {
  minute: CronField;
  hour: CronField;
  dayOfMonth: CronField;
  month: CronField;
  dayOfWeek: CronField;
}

export interface CronLine {
  schedule: CronSchedule;
  /** The five schedule fields as written, e.g. `*\/5 * * * *`. */
  scheduleText: string;
  user: string;
  /** Program and arguments. */
  argv: string[];
  /** The line ended in `> /dev/null 2>&1`. */
  discardOutput: boolean;
}

export type ParsedCronLine = { line: CronLine } | { error: string };

const FIELD_RANGES: ReadonlyArray<[keyof CronSchedule, number, number]> = [
  ['minute', 0, 59],
  ['hour', 0, 23],
  ['dayOfMonth', 1, 31],
  ['month', 1, 12],
  ['dayOfWeek', 0, 7],
];

/** `*`, `*\/N`, `N`, `A-B`, `A-B/N` and comma lists of those. */
function parseField(text: string, min: number, max: number): CronField | undefined {
  if (text === '*') return 'any';
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!match) return undefined;
    const from = match[1] === '*' ? min : Number(match[2]);
    const to = match[1] === '*' ? max : match[3] !== undefined ? Number(match[3]) : match[4] !== undefined ? max : from;
    const step = match[4] !== undefined ? Number(match[4]) : 1;
    if (from < min || to > max || from > to || step < 1) return undefined;
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

export function parseSchedule(fields: readonly string[]): CronSchedule | undefined {
  if (fields.length !== 5) return undefined;
  const schedule: Partial<Record<keyof CronSchedule, CronField>> = {};
  for (let i = 0; i < 5; i++) {
    const [name, min, max] = FIELD_RANGES[i];
    const field = parseField(fields[i], min, max);
    if (field === undefined) return undefined;
    schedule[name] = field;
  }
  return schedule as CronSchedule;
}

const allows = (field: CronField, value: number) => field === 'any' || field.has(value);

/** Whether the schedule fires in the minute that holds `time` (local time, as cron). */
export function isDue(schedule: CronSchedule, time: number): boolean {
  const date = new Date(time);
  const dayOfWeek = date.getDay();
  const dayOfMonthOk = allows(schedule.dayOfMonth, date.getDate());
  const dayOfWeekOk = allows(schedule.dayOfWeek, dayOfWeek) || (dayOfWeek === 0 && allows(schedule.dayOfWeek, 7));
  // cron: when both day fields are restricted, either one matching is enough.
  const dayOk = schedule.dayOfMonth !== 'any' && schedule.dayOfWeek !== 'any' ? dayOfMonthOk || dayOfWeekOk : dayOfMonthOk && dayOfWeekOk;
  return allows(schedule.minute, date.getMinutes()) && allows(schedule.hour, date.getHours()) && allows(schedule.month, date.getMonth() + 1) && dayOk;
}

const DISCARD = /\s+>\s*\/dev\/null\s+2>&1\s*$/;
const SHELL_SPECIAL = new Set(['|', '&', ';', '<', '>', '(', ')', '$', '`', '*', '?', '[', '~', '{', '}', '#']);

/**
 * Splits a command into words as sh does for quoting (no expansions). Cron's
 * `\%` is a literal `%`; a bare `%` (cron's stdin marker) is refused.
 */
export function splitCommand(command: string): { argv: string[] } | { error: string } {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const s = command;
  while (i < s.length) {
    const c = s[i];
    if (c === '%') return { error: 'a bare % (cron would feed the rest to stdin)' };
    if (c === '\\' && s[i + 1] === '%') {
      word += '%';
      inWord = true;
      i += 2;
    } else if (c === ' ' || c === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) return { error: 'an unterminated single quote' };
      const quoted = s.slice(i + 1, end);
      if (/(^|[^\\])%/.test(quoted)) return { error: 'a bare % (cron would feed the rest to stdin)' };
      word += quoted.replace(/\\%/g, '%');
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      inWord = true;
      for (;;) {
        if (i >= s.length) return { error: 'an unterminated double quote' };
        const d = s[i];
        if (d === '"') break;
        if (d === '$' || d === '`') return { error: `an expansion (${d}) inside double quotes` };
        if (d === '%') return { error: 'a bare % (cron would feed the rest to stdin)' };
        if (d === '\\' && i + 1 < s.length && '"\\$`%'.includes(s[i + 1])) {
          word += s[i + 1];
          i += 2;
          continue;
        }
        word += d;
        i++;
      }
      i++;
    } else if (c === '\\') {
      if (i + 1 >= s.length) return { error: 'a trailing backslash' };
      word += s[i + 1];
      inWord = true;
      i += 2;
    } else if (SHELL_SPECIAL.has(c)) {
      return { error: `the shell character ${JSON.stringify(c)}` };
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  if (words.length === 0) return { error: 'no command' };
  return { argv: words };
}

/** Parses one line of a cron.d file; undefined for blank lines, comments and variable assignments. */
export function parseCronLine(text: string): ParsedCronLine | undefined {
  const trimmed = text.trim();
  if (!trimmed || trimmed.startsWith('#') || /^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(trimmed)) return undefined;
  const fields = trimmed.split(/\s+/);
  if (fields.length < 7) return { error: 'want five schedule fields, a user and a command' };
  const schedule = parseSchedule(fields.slice(0, 5));
  if (!schedule) return { error: `unsupported schedule ${JSON.stringify(fields.slice(0, 5).join(' '))}` };
  // The command is the rest of the line after the sixth field, with its spacing and quoting intact.
  const command = trimmed.replace(/^(\S+\s+){6}/, '');
  const discardOutput = DISCARD.test(command);
  const split = splitCommand(command.replace(DISCARD, ''));
  if ('error' in split) return { error: `cannot run the command without a shell: ${split.error}` };
  return { line: { schedule, scheduleText: fields.slice(0, 5).join(' '), user: fields[5], argv: split.argv, discardOutput } };
}

/** Every line of a cron.d file, with its line number; blank lines and comments left out. */
export function parseCronFile(text: string): Array<{ lineNumber: number } & ParsedCronLine> {
  const out: Array<{ lineNumber: number } & ParsedCronLine> = [];
  text.split('\n').forEach((line, i) => {
    const parsed = parseCronLine(line);
    if (parsed) out.push({ lineNumber: i + 1, ...parsed });
  });
  return out;
}
