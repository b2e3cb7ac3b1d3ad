import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderDeployEnv } from './deploy-env';
import { isSimpleCommand, renderRunnerScript, type RunnerScriptOptions } from './runner-script';

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
    expect(renderRunnerScript({ cmd: 'x', maxOpenFiles: 123 })).toContain('ulimit -Sn 123\n');
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
