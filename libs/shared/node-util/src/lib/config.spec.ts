import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, configFileFromEnv, EXIT_CONFIG, EXIT_USAGE, loadConfig, mergeSectionAlias, parseConfig, readProgramConfig } from './config';

const schema = z.object({ httpPort: z.number().int().min(1).max(65535).default(7099), dataDir: z.string().default('.data') }).strict();

describe('loadConfig', () => {
  it('takes defaults, then the file, then the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'httpPort: 8000\ndataDir: /var/x\n');
    expect(loadConfig(schema, { envPrefix: 'T', env: {} })).toEqual({ httpPort: 7099, dataDir: '.data' });
    expect(loadConfig(schema, { file, envPrefix: 'T', env: { T_HTTP_PORT: '9000' } })).toEqual({ httpPort: 9000, dataDir: '/var/x' });
  });

  it('reaches into sections with a double underscore, keeping the rest of the section', () => {
    const nested = z.object({ zookeeper: z.object({ quorum: z.string().optional(), sessionTimeoutMillis: z.number().default(15000) }).strict().default({ sessionTimeoutMillis: 15000 }) }).strict();
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'nested.yaml');
    writeFileSync(file, 'zookeeper:\n  sessionTimeoutMillis: 5000\n');
    expect(loadConfig(nested, { file, envPrefix: 'T', env: { T_ZOOKEEPER__QUORUM: '127.0.0.1:2181' } })).toEqual({
      zookeeper: { quorum: '127.0.0.1:2181', sessionTimeoutMillis: 5000 },
    });
    expect(loadConfig(nested, { envPrefix: 'T', env: { T_ZOOKEEPER__SESSION_TIMEOUT_MILLIS: '4000' } })).toEqual({ zookeeper: { sessionTimeoutMillis: 4000 } });
    expect(() => loadConfig(nested, { envPrefix: 'T', env: { T_ZOOKEEPER__SESSION_TIMEOUT_MILLIS: 'x' } })).toThrow(/'zookeeper.sessionTimeoutMillis'/);
  });

  it('names the bad key', () => {
    expect(() => loadConfig(schema, { envPrefix: 'T', env: { T_HTTP_PORT: 'abc' } })).toThrow(ConfigError);
    expect(() => loadConfig(schema, { envPrefix: 'T', env: { T_HTTP_PORT: 'abc' } })).toThrow(/'httpPort'/);
  });

  it('names an unknown key', () => {
    expect(() => loadConfig(schema, { envPrefix: 'T', env: { T_HTTPPORT: '1' } })).toThrow(/invalid configuration key 'httpport': Unrecognized key/);
  });
});

describe('the file variable, parseConfig and section aliases', () => {
  it('takes <PREFIX>_CONFIG as the file, never as a key (the schemas refuse unknown keys)', () => {
    const env = { T_CONFIG: '/etc/x.yaml', T_HTTP_PORT: '9000' };
    expect(configFileFromEnv('T', env)).toBe('/etc/x.yaml');
    expect(configFileFromEnv('T', {})).toBeUndefined();
    expect(loadConfig(schema, { envPrefix: 'T', env })).toEqual({ httpPort: 9000, dataDir: '.data' });
  });

  it('parseConfig applies the defaults and names the bad key', () => {
    expect(parseConfig(schema, {})).toEqual({ httpPort: 7099, dataDir: '.data' });
    expect(() => parseConfig(schema, { httpPort: 0 })).toThrow(ConfigError);
    expect(() => parseConfig(schema, { httpPort: 0 })).toThrow(/invalid configuration key 'httpPort'/);
  });

  it('mergeSectionAlias accepts the spec name of a section, ours winning key by key', () => {
    expect(mergeSectionAlias({ logwatcher: { a: 1 } }, 'logwatcher', 'logWatcher')).toEqual({ logWatcher: { a: 1 } });
    expect(mergeSectionAlias({ logwatcher: { a: 1, b: 1 }, logWatcher: { b: 2 } }, 'logwatcher', 'logWatcher')).toEqual({ logWatcher: { a: 1, b: 2 } });
    expect(mergeSectionAlias({ logWatcher: { b: 2 }, base: {} }, 'logwatcher', 'logWatcher')).toEqual({ logWatcher: { b: 2 }, base: {} });
    expect(mergeSectionAlias('not a mapping', 'logwatcher', 'logWatcher')).toBe('not a mapping');
  });
});

describe('readProgramConfig', () => {
  const written: string[] = [];
  beforeEach(() => {
    written.length = 0;
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => written.push(String(chunk)) > 0);
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => written.push(String(chunk)) > 0);
  });
  afterEach(() => jest.restoreAllMocks());
  const load = (file: string | undefined) => {
    if (file === 'bad.yaml') throw new ConfigError("invalid configuration key 'x.y': too small");
    return { file };
  };

  it('reads --config, else <PREFIX>_CONFIG', () => {
    expect(readProgramConfig('prog', 'T', load, ['--config', 'a.yaml'])).toEqual({ config: { file: 'a.yaml' }, configFile: 'a.yaml' });
    process.env['T_CONFIG'] = 'env.yaml';
    try {
      expect(readProgramConfig('prog', 'T', load, [])).toEqual({ config: { file: 'env.yaml' }, configFile: 'env.yaml' });
    } finally {
      delete process.env['T_CONFIG'];
    }
  });

  it('answers the exit code for --help, bad arguments and a bad configuration, saying why', () => {
    expect(readProgramConfig('prog', 'T', load, ['--help'])).toEqual({ exitCode: 0 });
    expect(readProgramConfig('prog', 'T', load, ['--nope'])).toEqual({ exitCode: EXIT_USAGE });
    expect(readProgramConfig('prog', 'T', load, ['--config', 'bad.yaml'])).toEqual({ exitCode: EXIT_CONFIG });
    expect(written.join('')).toContain("prog: invalid configuration key 'x.y': too small");
    expect(written.join('')).toContain('usage: prog [--config <file>]');
  });
});
