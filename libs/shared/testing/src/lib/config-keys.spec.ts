import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { configKeyPaths, undocumentedConfigKeys } from './config-keys';
import { tempDir } from './temp-dir';

const schema = z
  .object({
    httpPort: z.number().default(1),
    zookeeper: z.object({ quorum: z.string().optional(), sessionTimeoutMillis: z.number().default(1) }).default({ sessionTimeoutMillis: 1 }),
    attributes: z.record(z.string(), z.string()).default({}),
    portRange: z.union([z.string(), z.object({ begin: z.number() })]).optional(),
    list: z.string().transform((s) => s.split(',')).optional(),
  })
  .strict();

describe('configuration key listing', () => {
  it('lists keys and section keys as dotted paths, leaving records and unions whole', () => {
    expect(configKeyPaths(schema)).toEqual(['httpPort', 'zookeeper', 'zookeeper.quorum', 'zookeeper.sessionTimeoutMillis', 'attributes', 'portRange', 'list']);
  });

  it('finds the keys a markdown section does not mention', async () => {
    const dir = await tempDir('config-keys-');
    const file = join(dir.path, 'c.md');
    writeFileSync(file, '# Config\n\n## App\n| `httpPort` | 1 |\n| `zookeeper` | |\n| `quorum` | |\n\n## Other\n`attributes`\n');
    expect(undocumentedConfigKeys(schema, file, 'App')).toEqual(['zookeeper.sessionTimeoutMillis', 'attributes', 'portRange', 'list']);
    expect(() => undocumentedConfigKeys(schema, file, 'Missing')).toThrow('has no section "## Missing"');
    await dir.cleanup();
  });
});
