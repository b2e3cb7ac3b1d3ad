import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidEnvironmentError, quoteDeployEnvValue, renderDeployEnv, validateTaskEnv } from './deploy-env';

let dir: string;
let file: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'deploy-env-'));
  file = join(dir, 'deploy.env');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `script` in a real bash after sourcing `deployEnv` from a file, as runner.sh does. */
function bash(deployEnv: string, script: string, env: NodeJS.ProcessEnv = {}): string {
  writeFileSync(file, deployEnv);
  // stdin ignored: bash reads ~/.bashrc when its stdin is a socket (Node's pipes are).
  return execFileSync('bash', ['-c', `set -e\nsource "$1"\n${script}`, 'bash', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, ...env },
  }).toString();
}

/** Sources `deployEnv` in a real bash and returns the named variables' values, NUL-separated to keep newlines. */
function sourceInBash(deployEnv: string, names: string[], env: NodeJS.ProcessEnv = {}): Record<string, string> {
  const out = bash(deployEnv, `for n in ${names.join(' ')}; do printf '%s\\0' "\${!n}"; done`, env);
  const values = out.split('\0').slice(0, names.length);
  return Object.fromEntries(names.map((n, i) => [n, values[i]]));
}

describe('deploy.env', () => {
  const nasty: Record<string, string> = {
    PLAIN: 'value',
    EMPTY: '',
    SPACES: '  two  words  ',
    DOUBLE_QUOTES: 'say "hi" ""',
    SINGLE_QUOTES: "it's 'quoted'",
    BACKTICKS: 'run `id` and `echo pwned`',
    BANG: 'wow! !! !$ !-1 a!b',
    BACKSLASHES: 'C:\\path\\to\\ \\n \\" \\\\ end\\',
    NEWLINES: 'line1\nline2\n\nline4\n',
    TABS_AND_CR: 'a\tb\r\nc',
    MIXED: `"'\`!\\\n $ {} ; & | < > ( ) # * ?`,
    UNICODE: 'grüße ✓ 日本',
    TRAILING_DOLLAR: 'costs 5$',
  };

  it('brings every value through bash unchanged', () => {
    const rendered = renderDeployEnv(nasty);
    expect(sourceInBash(rendered, Object.keys(nasty))).toEqual(nasty);
  });

  it('exports the variables to child processes', () => {
    const rendered = renderDeployEnv({ EXPORTED: 'a "b" `c`' });
    const out = bash(rendered, `bash -c 'printf %s "$EXPORTED"'`);
    expect(out).toBe('a "b" `c`');
  });

  it('leaves $ live, as documented: variables expand when sourced', () => {
    const rendered = renderDeployEnv({ BASE: '/opt/app', HOME_DIR: '$BASE/home', BRACED: '${BASE}-x', OUTER: '$FROM_RUNNER' });
    expect(sourceInBash(rendered, ['BASE', 'HOME_DIR', 'BRACED', 'OUTER'], { FROM_RUNNER: 'inherited' })).toEqual({
      BASE: '/opt/app',
      HOME_DIR: '/opt/app/home',
      BRACED: '/opt/app-x',
      OUTER: 'inherited',
    });
  });

  it('writes one export line per entry, in order', () => {
    const lines = renderDeployEnv({ B: '1', A: '2' }).split('\n').filter((l) => l.startsWith('export'));
    expect(lines).toEqual(['export B="1"', 'export A="2"']);
  });

  it('closes the quotes around !', () => {
    expect(quoteDeployEnvValue('a!b')).toBe(`"a"'!'"b"`);
    expect(quoteDeployEnvValue('x"`\\')).toBe('"x\\"\\`\\\\"');
  });

  it.each(['1ABC', 'A-B', 'A B', '', 'A=B', 'ÄB', 'A;rm'])('rejects the variable name %j', (name) => {
    expect(() => renderDeployEnv({ [name]: 'x' })).toThrow(InvalidEnvironmentError);
    expect(() => renderDeployEnv({ [name]: 'x' })).toThrow(`Invalid environment variable name ${JSON.stringify(name)}`);
  });

  it.each(['_', '_A1', 'a', 'PORT0', 'camelCase'])('accepts the variable name %j', (name) => {
    expect(() => validateTaskEnv({ [name]: 'x' })).not.toThrow();
  });

  it('rejects a NUL byte in a value', () => {
    expect(() => validateTaskEnv({ A: 'x\0y' })).toThrow(InvalidEnvironmentError);
  });
});
