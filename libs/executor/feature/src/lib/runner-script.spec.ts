import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderDeployEnv } from './deploy-env';
import { executorConfig } from './executor-config';
import { InvalidRunAsUserError, type UserDirectory } from './run-as-user';
import { isSimpleCommand, renderRunnerScript, runnerScriptOptions, switchUserCommand, type RunnerScriptOptions } from './runner-script';

let sandbox: string;
beforeEach(() => {
  sandbox = mkdtempSync(join(tmpdir(), 'runner-script-'));
});
afterEach(() => rmSync(sandbox, { recursive: true, force: true }));

/**
 * Writes runner.sh (and deploy.env) into a fresh sandbox, runs `bash runner.sh` there as the executor does
 * (the task env also inherited, stdin /dev/null) and returns service.log.
 */
function runRunner(options: RunnerScriptOptions, env: Record<string, string> = { TASK_ID: 'task-1' }): string {
  writeFileSync(join(sandbox, 'deploy.env'), renderDeployEnv(env));
  writeFileSync(join(sandbox, 'runner.sh'), renderRunnerScript(options));
  execFileSync('bash', ['runner.sh'], { cwd: sandbox, stdio: 'ignore', env: { PATH: process.env.PATH, ...env } });
  return readFileSync(join(sandbox, 'service.log'), 'utf8');
}

/**
 * A stand-in for `sudo -E -u %s` that needs no privileges: it records the user
 * it was given in ../switched-to, resets PATH as sudo's secure_path would, and
 * runs the rest of its command line.
 */
const FAKE_SWITCH = `env SWITCHED_TO=%s PATH=/usr/bin:/bin /bin/bash -c 'printf %s "$SWITCHED_TO" > ../switched-to; exec "$@"' fake-sudo`;

const nastyArgs = ['two words', '', "it's", 'a"b', '$HOME', '`id`', '$(id)', 'x!y', 'line1\nline2', "'; touch pwned #", '\\', '*', '--flag=a b'];

describe('runner.sh', () => {
  it.each([
    ['an exec\'d program', "/usr/bin/printf '<%s>\\0'"],
    ['a builtin (run in the runner shell)', "printf '<%s>\\0'"],
  ])('passes each extraCmdLineArg to %s as one argument', (_what, cmd) => {
    const out = runRunner({ cmd, extraCmdLineArgs: nastyArgs });
    expect(out.split('\0').slice(0, -1)).toEqual(nastyArgs.map((a) => `<${a}>`));
    expect(existsSync(join(sandbox, 'app', 'pwned'))).toBe(false);
  });

  it('runs in app/ with deploy.env sourced, MESOS_TASK_ID set and tmp/ logs/ created', () => {
    const out = runRunner({ cmd: '/bin/sh -c \'printf "%s|%s|%s" "$PWD" "$MESOS_TASK_ID" "$GREETING"\'' }, { TASK_ID: 'the-task', GREETING: 'hi "you"' });
    expect(out).toBe(`${join(sandbox, 'app')}|the-task|hi "you"`);
    expect(statSync(join(sandbox, 'tmp')).mode & 0o777).toBe(0o750);
    expect(statSync(join(sandbox, 'logs')).mode & 0o777).toBe(0o755);
  });

  it("sources the artifact's .profile.d, whose plain variables reach the command line", () => {
    mkdirSync(join(sandbox, 'app', '.profile.d'), { recursive: true });
    writeFileSync(join(sandbox, 'app', '.profile.d', 'java.sh'), 'JAVA_OPTS="-Xmx1g -Dx=y"\n');
    const out = runRunner({ cmd: "/usr/bin/printf '<%s>' $JAVA_OPTS" });
    expect(out).toBe('<-Xmx1g><-Dx=y>');
  });

  it('appends stdout and stderr of the command to service.log', () => {
    writeFileSync(join(sandbox, 'service.log'), 'before\n');
    const out = runRunner({ cmd: "/bin/sh -c 'echo out; echo err >&2'" });
    expect(out).toBe('before\nout\nerr\n');
  });

  it('runs compound commands', () => {
    const out = runRunner({ cmd: 'cd .. && echo "in $(basename "$PWD")" && pwd >/dev/null; echo done' });
    expect(out).toBe(`in ${sandbox.split('/').pop()}\ndone\n`);
  });

  it('sets the soft open-files limit with maxOpenFiles', () => {
    expect(renderRunnerScript({ cmd: 'x', maxOpenFiles: 123 })).toContain('ulimit -Sn 123 || exit 1\n');
    const out = runRunner({ cmd: "/bin/bash -c 'ulimit -Sn'", maxOpenFiles: 123 });
    expect(out.trim()).toBe('123');
  });

  it('exits with the status of the command', () => {
    writeFileSync(join(sandbox, 'runner.sh'), renderRunnerScript({ cmd: 'exit 3' }));
    expect(() => execFileSync('bash', ['runner.sh'], { cwd: sandbox, stdio: 'ignore' })).toThrow(expect.objectContaining({ status: 3 }));
  });

  it('execs a simple command and keeps a compound one in the shell', () => {
    expect(renderRunnerScript({ cmd: 'java -jar app.jar', extraCmdLineArgs: ['a b'] })).toContain("exec java -jar app.jar 'a b' >> ../service.log 2>&1\n");
    expect(renderRunnerScript({ cmd: "trap '' TERM; sleep 60" })).toContain("trap 'exit $?' TERM\n{\ntrap '' TERM; sleep 60\n} >> ../service.log 2>&1\n");
  });
});

describe('runner.sh with another user', () => {
  const asUser = (options: Omit<RunnerScriptOptions, 'runAsUser' | 'switchUserCommandFormat'>, env?: Record<string, string>) =>
    runRunner({ ...options, runAsUser: 'someone', switchUserCommandFormat: FAKE_SWITCH }, env);

  it('execs the command through the switch command with the user quoted, arguments kept whole', () => {
    const out = asUser({ cmd: "/usr/bin/printf '<%s>\\0'", extraCmdLineArgs: nastyArgs });
    expect(readFileSync(join(sandbox, 'switched-to'), 'utf8')).toBe('someone');
    expect(out.split('\0').slice(0, -1)).toEqual(nastyArgs.map((a) => `<${a}>`));
    expect(existsSync(join(sandbox, 'app', 'pwned'))).toBe(false);
  });

  it('runs a compound command as the user too, in a shell that sees the exported environment', () => {
    const out = asUser({ cmd: 'cd .. && printf "%s|%s|" "$(basename "$PWD")" "$GREETING"; printf "%s" "[$1]"', extraCmdLineArgs: ['an arg'] }, { TASK_ID: 't', GREETING: 'hi "you"' });
    expect(readFileSync(join(sandbox, 'switched-to'), 'utf8')).toBe('someone');
    // No positional parameter of the switch shell leaks into the command; the argument goes where it belongs.
    expect(out).toBe(`${sandbox.split('/').pop()}|hi "you"|[]an arg`);
  });

  it("gives the command the task's PATH back after the switch", () => {
    const bin = join(sandbox, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'only-in-task-path'), '#!/bin/sh\necho "found; PATH=$PATH"\n', { mode: 0o755 });
    const out = asUser({ cmd: 'only-in-task-path' }, { TASK_ID: 't', PATH: `${bin}:/usr/bin:/bin` });
    expect(out).toBe(`found; PATH=${bin}:/usr/bin:/bin\n`);
  });

  it('sets the soft open-files limit after the switch', () => {
    const script = renderRunnerScript({ cmd: 'x', maxOpenFiles: 77, runAsUser: 'someone' });
    expect(script.indexOf('ulimit -Sn 77')).toBeGreaterThan(script.indexOf('exec sudo -E -u someone /bin/bash -c'));
    expect(asUser({ cmd: "/bin/bash -c 'ulimit -Sn'", maxOpenFiles: 77 })).toBe('77\n');
    expect(asUser({ cmd: 'ulimit -Sn; echo compound', maxOpenFiles: 78 })).toBe('77\n78\ncompound\n');
  });

  it('chowns the sandbox and tmp/ logs/ app/ to the user before anything of the task runs', () => {
    const script = renderRunnerScript({ cmd: 'x', runAsUser: 'someone' });
    expect(script).toContain('chown -R -h -- someone "$__singularity_sandbox"');
    expect(script).toContain('chown -- someone tmp logs app');
    expect(script.indexOf('chown -R')).toBeLessThan(script.indexOf('source ./deploy.env'));
    expect(script).not.toContain('TODO');
  });

  it('quotes the user and refuses names that are not user names', () => {
    expect(switchUserCommand('sudo -E -u %s', 'svc$')).toBe("sudo -E -u 'svc$'");
    expect(renderRunnerScript({ cmd: 'x', runAsUser: 'svc$' })).toContain("exec sudo -E -u 'svc$' /bin/bash -c");
    for (const bad of ['root; rm -rf /', '$(id)', 'Bob', '-u', 'a b', '']) {
      expect(() => renderRunnerScript({ cmd: 'x', runAsUser: bad })).toThrow(InvalidRunAsUserError);
    }
    expect(() => switchUserCommand('sudo -E', 'someone')).toThrow('has no %s');
  });

  it('runs as the executor itself without any switch', () => {
    const script = renderRunnerScript({ cmd: 'java -jar app.jar' });
    expect(script).not.toContain('chown');
    expect(script).not.toContain('sudo');
  });
});

describe('runner.sh extras from the executor configuration', () => {
  it('runs extraScriptContent in app/ after the profiles, just before the command', () => {
    const out = runRunner({
      cmd: "/bin/sh -c 'printf \"%s|%s\" \"$FROM_EXTRA\" \"$(cat ../extra-ran-in)\"'",
      extraScriptContent: 'export FROM_EXTRA="set by extra"\nbasename "$PWD" > ../extra-ran-in\n',
    });
    expect(out).toBe('set by extra|app');
  });

  it('with useFileAttributes stamps service.log before the command, or says why it cannot', () => {
    const script = renderRunnerScript({ cmd: 'x', useFileAttributes: true });
    expect(script).toMatch(/setfattr -n user\.logstart -v "\$\(\( \$\(date \+%s%N\) \/ 1000000 \)\)" \.\.\/service\.log/);
    expect(script.indexOf('setfattr')).toBeLessThan(script.indexOf('exec x'));
    // Whether or not setfattr is installed here, the command still runs.
    expect(runRunner({ cmd: 'echo ran', useFileAttributes: true })).toBe('ran\n');
  });
});

describe('runnerScriptOptions', () => {
  const users = (known: Record<string, number>, self = { name: 'agent', uid: 1000 }): UserDirectory => ({ self: () => self, uidOf: (name) => known[name] });
  const definition = (user?: string) =>
    ({ taskId: 't', executorData: { cmd: 'run', user, extraCmdLineArgs: ['a b'], maxOpenFiles: 5 } }) as unknown as Parameters<typeof runnerScriptOptions>[0];

  it("takes the deploy's user, else defaultRunAsUser, and the configuration's switch command and extras", () => {
    const config = executorConfig({ executor: { defaultRunAsUser: 'fallback', switchUserCommandFormat: 'runuser -u %s --', extraScriptContent: 'echo hi', useFileAttributes: true } });
    const known = users({ svc: 2000, fallback: 3000 });
    expect(runnerScriptOptions(definition('svc'), config, known)).toEqual({
      cmd: 'run',
      extraCmdLineArgs: ['a b'],
      maxOpenFiles: 5,
      runAsUser: 'svc',
      switchUserCommandFormat: 'runuser -u %s --',
      extraScriptContent: 'echo hi',
      useFileAttributes: true,
    });
    expect(runnerScriptOptions(definition(), config, known).runAsUser).toBe('fallback');
    expect(runnerScriptOptions(definition(), executorConfig(), known).runAsUser).toBeUndefined();
  });

  it("does not switch to the executor's own user, by name or by uid", () => {
    expect(runnerScriptOptions(definition('agent'), executorConfig(), users({})).runAsUser).toBeUndefined();
    expect(runnerScriptOptions(definition('alias'), executorConfig(), users({ alias: 1000 })).runAsUser).toBeUndefined();
  });

  it('fails the task on a malformed or unknown user', () => {
    expect(() => runnerScriptOptions(definition('nosuchuser'), executorConfig(), users({}))).toThrow(
      new InvalidRunAsUserError('Run-as user nosuchuser does not exist on this host'),
    );
    expect(() => runnerScriptOptions(definition('x;id'), executorConfig(), users({ 'x;id': 5 }))).toThrow(
      new InvalidRunAsUserError('Invalid run-as user "x;id": not a valid user name'),
    );
  });
});

describe('isSimpleCommand', () => {
  it.each([
    'java -jar app.jar',
    'sleep 60',
    './bin/start --port $PORT0',
    '"$JAVA_HOME/bin/java" -Dx=\'a b\' -cp "lib/*" Main',
    'node server.js --name="my app"',
    'python3 -c "print(1)"',
    'cmd a\\ b',
    'FOO',
  ])('%j is simple', (cmd) => expect(isSimpleCommand(cmd)).toBe(true));

  it.each([
    "trap '' TERM; sleep 60",
    'cd app && ./run',
    'a || b',
    'a | b',
    'sleep 1 &',
    'a > out.txt',
    'a < in.txt',
    '(subshell)',
    'echo $(id)',
    'echo `id`',
    'echo "$(id)"',
    'a # comment',
    'FOO=bar ./run',
    'exec java',
    'export A=1',
    'if true; then x; fi',
    '{ a; }',
    'line1\nline2',
    'unterminated "quote',
    '',
    '   ',
    'echo hi',
  ])('%j is compound', (cmd) => expect(isSimpleCommand(cmd)).toBe(false));
});
