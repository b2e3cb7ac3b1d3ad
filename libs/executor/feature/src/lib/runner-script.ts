import type { ExecutorTaskDefinition } from '@singularity/models';
import { shellQuote, shellQuoteAll } from '@singularity/util';
import type { ExecutorConfig } from './executor-config';
import { resolveRunAsUser, validateRunAsUserName, type UserDirectory } from './run-as-user';
import { SANDBOX_FILES } from './sandbox-layout';

/** What `runner.sh` needs; all of it but `cmd` and `extraScriptContent` is quoted or validated before it reaches the script. */
export interface RunnerScriptOptions {
  /** The deploy's command: the only raw shell text of the task. */
  cmd: string;
  /** Appended to `cmd`, each shell-quoted, so each reaches the program as one argument (orig: raw). */
  extraCmdLineArgs?: readonly string[];
  /** Soft limit of open files of the service process (`ulimit -Sn`), set after any user switch. */
  maxOpenFiles?: number;
  /**
   * The user to run the command as, when it is not the executor's own
   * (see `resolveRunAsUser`): the sandbox is chowned to it and the command
   * runs through `switchUserCommandFormat`.
   */
  runAsUser?: string;
  /** How to become `runAsUser`: `%s` is replaced with the quoted user name. Default `sudo -E -u %s`. */
  switchUserCommandFormat?: string;
  /** Operator's shell text (executor config), run just before the command, in `app/`. */
  extraScriptContent?: string;
  /** Stamp `service.log` with the xattr `user.logstart` (ms) before the command starts. */
  useFileAttributes?: boolean;
}

export const DEFAULT_SWITCH_USER_COMMAND_FORMAT = 'sudo -E -u %s';

/**
 * The runner options of a task under the executor's configuration. Resolves
 * the run-as user, so a malformed or unknown user fails the task (as a
 * TaskFailureError) before anything is staged.
 */
export function runnerScriptOptions(definition: ExecutorTaskDefinition, config: ExecutorConfig, users?: UserDirectory): RunnerScriptOptions {
  const data = definition.executorData;
  return {
    cmd: data.cmd,
    extraCmdLineArgs: data.extraCmdLineArgs,
    maxOpenFiles: data.maxOpenFiles,
    runAsUser: resolveRunAsUser(definition, config, users),
    switchUserCommandFormat: config.executor.switchUserCommandFormat,
    extraScriptContent: config.executor.extraScriptContent,
    useFileAttributes: config.executor.useFileAttributes,
  };
}

// Builtins and reserved words: `exec <word>` would look for a program of that
// name and fail, so commands starting with one run in the runner's shell.
const SHELL_WORDS = new Set(
  (
    '! [[ ]] { } . : [ alias bg bind break builtin caller case cd command compgen complete compopt continue coproc ' +
    'declare dirs disown do done echo elif else enable esac eval exec exit export false fc fg fi for function getopts ' +
    'hash help history if in jobs kill let local logout mapfile popd printf pushd pwd read readarray readonly return ' +
    'select set shift shopt source suspend test then time times trap true type typeset ulimit umask unalias unset ' +
    'until wait while'
  ).split(' '),
);

/**
 * True when `cmd` is certainly one simple command (a program and its words,
 * quoting and `$VAR` allowed) that `exec` can replace the runner shell with.
 * Anything with control operators, redirections, substitutions, comments,
 * assignments or a leading builtin is "compound". The test errs towards
 * compound, which still runs correctly, only with bash as the parent.
 */
export function isSimpleCommand(cmd: string): boolean {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i];
    if (quote === "'") {
      word += c;
      if (c === "'") quote = undefined;
      continue;
    }
    if (quote === '"') {
      word += c;
      if (c === '\\') {
        word += cmd[++i] ?? '';
      } else if (c === '`' || (c === '$' && cmd[i + 1] === '(')) {
        return false;
      } else if (c === '"') {
        quote = undefined;
      }
      continue;
    }
    if (c === ' ' || c === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    if ('\n\r;&|<>()`'.includes(c)) return false;
    if (c === '$' && cmd[i + 1] === '(') return false;
    if (c === '#' && !inWord) return false;
    if (c === '\\') {
      const next = cmd[i + 1];
      if (next === undefined || next === '\n') return false;
      word += c + next;
      i++;
    } else {
      if (c === "'" || c === '"') quote = c;
      word += c;
    }
    inWord = true;
  }
  if (quote) return false;
  if (inWord) words.push(word);
  if (words.length === 0) return false;
  const first = words[0];
  if (SHELL_WORDS.has(first)) return false;
  if (/^[A-Za-z_][A-Za-z0-9_]*\+?=/.test(first)) return false;
  return true;
}


/** `switchUserCommandFormat` with the quoted user in place of every `%s`. */
export function switchUserCommand(format: string, user: string): string {
  validateRunAsUserName(user);
  if (!format.includes('%s')) throw new Error(`switchUserCommandFormat ${JSON.stringify(format)} has no %s for the user`);
  return format.split('%s').join(shellQuote(user));
}

/** `$0` of the shell that runs the command after a user switch (shows in `ps` and in its error messages). */
const SWITCHED_SHELL_NAME = 'singularity-runner';

/**
 * Renders `runner.sh` (spec slave §1.6), run as `bash runner.sh` with the
 * sandbox `T` as its working directory and its output in `executor.bash.log`.
 *
 * A simple `cmd` is `exec`'d, so the service replaces the runner and gets the
 * kill signals itself, as in the original. The original could run nothing
 * else (`exec cd x && …` fails); a compound `cmd` (`trap '' TERM; sleep 60`,
 * `cd x && ./run`) runs in the runner's shell instead. That shell then waits
 * for the command on SIGTERM and exits with its status, so a graceful
 * shutdown of the command is not cut short by the runner dying first.
 *
 * With `runAsUser` the sandbox (staged artifacts included) is chowned to the
 * user, and the runner execs the switch command (`sudo -E -u <user>`) with a
 * small bash that sets `ulimit -Sn` (after the switch, which may reset limits
 * through PAM) and then execs the command, or runs a compound one the same
 * way as above. That bash restores the task's `PATH`, which sudo's
 * `secure_path` replaces. A simple command's words are still expanded by the
 * runner, so plain variables of `app/.profile.d` reach them; a compound command
 * is parsed by the switched bash, which sees exported variables only.
 */
export function renderRunnerScript(options: RunnerScriptOptions): string {
  const serviceLog = `../${SANDBOX_FILES.serviceLog}`;
  const args = options.extraCmdLineArgs?.length ? ` ${shellQuoteAll(options.extraCmdLineArgs)}` : '';
  const cmd = options.cmd.replace(/\s+$/, '');
  const commandLine = `${cmd}${args}`;
  const simple = isSimpleCommand(cmd);
  const user = options.runAsUser;
  const switchCommand = user === undefined ? undefined : switchUserCommand(options.switchUserCommandFormat ?? DEFAULT_SWITCH_USER_COMMAND_FORMAT, user);
  const quotedUser = user === undefined ? undefined : shellQuote(user);
  if (options.maxOpenFiles !== undefined && (!Number.isInteger(options.maxOpenFiles) || options.maxOpenFiles < 1)) {
    throw new RangeError(`maxOpenFiles must be a positive integer, got ${options.maxOpenFiles}`);
  }
  const ulimit = options.maxOpenFiles === undefined ? [] : [`ulimit -Sn ${options.maxOpenFiles} || exit 1`];
  const { tmpDirectory: tmp, logsDirectory: logs, appDirectory: app } = SANDBOX_FILES;

  const lines: string[] = [
    '#!/bin/bash',
    '#',
    '# Generated by the Singularity executor: runs the task command in the sandbox.',
    '#',
    '',
    'export MESOS_TASK_ID="$TASK_ID"',
    '__singularity_sandbox="$PWD"',
    '',
  ];
  if (quotedUser !== undefined) {
    lines.push(
      `# The task runs as ${quotedUser}: the sandbox and what was staged into it become its own.`,
      `chown -R -h -- ${quotedUser} "$__singularity_sandbox" || echo "runner.sh: could not chown the sandbox to ${quotedUser}" >&2`,
      '',
    );
  }
  lines.push(
    // cpuHardLimit: spec §1.6 has runner.sh write the cfs quota and period. Here the task's cgroup,
    // cpu quota included, is set up by TaskIsolation (task-isolation.ts) before the runner starts.
    '# System-wide profile; a broken script must not stop the task.',
    'if [[ -d /etc/profile.d ]]; then',
    '  for __singularity_file in /etc/profile.d/*.sh; do',
    '    if [[ -r "$__singularity_file" ]]; then source "$__singularity_file" >/dev/null 2>&1; fi',
    '  done',
    'fi',
    'cd -- "$__singularity_sandbox" || exit 1',
    '',
    `if [[ -f ${SANDBOX_FILES.deployEnv} ]]; then`,
    '  echo "Sourcing deploy-specific environment variables"',
    `  source ./${SANDBOX_FILES.deployEnv}`,
    'fi',
    '',
    `mkdir -p ${tmp} ${logs} ${app}`,
    ...(quotedUser === undefined ? [] : [`chown -- ${quotedUser} ${tmp} ${logs} ${app} || echo "runner.sh: could not chown ${tmp} ${logs} ${app} to ${quotedUser}" >&2`]),
    `chmod 0750 ${tmp}`,
    `chmod 0755 ${logs}`,
    `cd ${app} || exit 1`,
    '',
    "# The artifact's own profile.",
    'if [[ -d .profile.d ]]; then',
    '  for __singularity_file in .profile.d/*; do',
    '    if [[ -f "$__singularity_file" ]]; then source "$__singularity_file"; echo "Sourced $__singularity_file"; fi',
    '  done',
    'fi',
    'unset __singularity_file __singularity_sandbox',
    '',
  );
  if (options.useFileAttributes) {
    lines.push(
      '# useFileAttributes: when service.log started, for the log uploader (ms since the epoch).',
      `: >> ${serviceLog}`,
      'if command -v setfattr >/dev/null 2>&1; then',
      `  setfattr -n user.logstart -v "$(( $(date +%s%N) / 1000000 ))" ${serviceLog} || echo "runner.sh: could not set user.logstart on ${SANDBOX_FILES.serviceLog}" >&2`,
      'else',
      `  echo "runner.sh: setfattr is not installed; ${SANDBOX_FILES.serviceLog} gets no user.logstart" >&2`,
      'fi',
      '',
    );
  }
  if (options.extraScriptContent?.trim()) {
    lines.push('# extraScriptContent (executor configuration)', options.extraScriptContent.replace(/\s+$/, ''), '');
  }

  if (switchCommand === undefined) {
    lines.push(...ulimit, `printf 'Executing: %s\\n' ${shellQuote(commandLine)}`);
    if (simple) {
      lines.push(`exec ${commandLine} >> ${serviceLog} 2>&1`);
    } else {
      lines.push(
        '# Not a single simple command: run it in this shell. On SIGTERM wait for it, then exit with its status.',
        "trap 'exit $?' TERM",
        '{',
        commandLine,
        `} >> ${serviceLog} 2>&1`,
      );
    }
    return `${lines.join('\n')}\n`;
  }

  // After the switch: the task's PATH back, the limit, then the command as above.
  const inner = ['export PATH="$1"; shift', ...ulimit];
  if (simple) inner.push('exec "$@"');
  else inner.push("trap 'exit $?' TERM", '{', commandLine, '}');
  const runInner = `/bin/bash -c ${shellQuote(inner.join('\n'))} ${SWITCHED_SHELL_NAME} "$PATH"`;
  lines.push(
    `printf 'Executing: %s\\n' ${shellQuote(`${switchCommand} ${commandLine}`)}`,
    `exec ${switchCommand} ${runInner}${simple ? ` ${commandLine}` : ''} >> ${serviceLog} 2>&1`,
  );
  return `${lines.join('\n')}\n`;
}
