import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

/**
 * The layering rules are enforced by lint (eslint.config.mjs, conventions §7).
 * These cases prove the rules bite: each snippet is linted as if it lived in
 * the named project, with the workspace's real configuration (the ESLint CLI
 * reading the snippet from stdin, because its config is an ES module).
 */
const root = resolve(__dirname, '..', '..');
const BOUNDARY_RULES = ['@nx/enforce-module-boundaries', 'no-restricted-imports'];

async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const out = spawnSync(resolve(root, 'node_modules/.bin/eslint'), ['--format', 'json', '--stdin', '--stdin-filename', resolve(root, filePath)], {
    cwd: root,
    input: code,
    encoding: 'utf8',
  });
  if (!out.stdout) throw new Error(`eslint gave no report (exit ${out.status}): ${out.stderr}`);
  const [result] = JSON.parse(out.stdout) as Array<{ messages: Array<{ ruleId: string | null; message: string }> }>;
  return result.messages.filter((m) => BOUNDARY_RULES.includes(m.ruleId ?? '')).map((m) => m.message);
}

describe('module boundaries', () => {
  jest.setTimeout(60_000);

  it.each([
    ['node:fs', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n"],
    ['child_process', "import { spawn } from 'node:child_process';\nexport const x = spawn;\n"],
    ['@nestjs/common', "import { Injectable } from '@nestjs/common';\nexport const x = Injectable;\n"],
    ['execa', "import execa from 'execa';\nexport const x = execa;\n"],
  ])('the scheduling domain lib may not import %s', async (_name, code) => {
    expect(await boundaryErrors('libs/scheduler/core/src/lib/boundary-probe.ts', code)).not.toHaveLength(0);
  });

  it('the domain lib may not depend on the data-access lib', async () => {
    const code = "import { InMemoryStateStore } from '@singularity/scheduler-state';\nexport const x = InMemoryStateStore;\n";
    expect(await boundaryErrors('libs/scheduler/core/src/lib/boundary-probe.ts', code)).not.toHaveLength(0);
  });

  it('the agent may not import scheduler libs', async () => {
    const code = "import { planOffers } from '@singularity/scheduler-core';\nexport const x = planOffers;\n";
    expect(await boundaryErrors('libs/agent/feature/src/lib/boundary-probe.ts', code)).not.toHaveLength(0);
  });

  it('allows what the layering allows', async () => {
    const code = "import { buildTaskId } from '@singularity/models';\nimport { seededRandom } from '@singularity/util';\nexport const x = [buildTaskId, seededRandom];\n";
    expect(await boundaryErrors('libs/scheduler/core/src/lib/boundary-probe.ts', code)).toEqual([]);
  });
});
