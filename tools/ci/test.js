#!/usr/bin/env node
// The project's test command (`npm test`): lint and type-check every project
// through Nx (module boundaries included), then run every jest suite once.
// Ends with one line "N passed, N failed".
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
const extra = process.argv.slice(2);

function run(title, cmd, args) {
  process.stdout.write(`\n=== ${title}: ${cmd} ${args.join(' ')}\n`);
  const started = Date.now();
  const result = spawnSync(cmd, args, { cwd: root, env, stdio: 'inherit' });
  process.stdout.write(`=== ${title}: exit ${result.status} after ${Math.round((Date.now() - started) / 1000)} s\n`);
  return result.status === 0;
}

const nx = path.join(root, 'node_modules', '.bin', 'nx');
const jest = path.join(root, 'node_modules', '.bin', 'jest');
// CI checks every project for real; locally Nx may reuse results of unchanged projects.
const cacheFlags = process.env.CI === 'true' ? ['--skip-nx-cache'] : [];
const checks = run('lint + typecheck', nx, ['run-many', '-t', 'lint', 'typecheck', '--output-style=static', '--parallel=2', ...cacheFlags]);

const resultsFile = path.join(root, 'tmp', 'jest-results.json');
fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
fs.rmSync(resultsFile, { force: true });
const tests = run('tests', jest, ['-c', 'jest.config.js', '--json', `--outputFile=${resultsFile}`, ...extra]);

let passed = 0;
let failed = 0;
if (fs.existsSync(resultsFile)) {
  const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
  passed = results.numPassedTests;
  failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
  for (const suite of results.testResults) {
    if (suite.status !== 'passed') process.stdout.write(`FAILED SUITE ${path.relative(root, suite.name)}\n`);
  }
} else {
  failed += 1;
}
if (!checks) {
  process.stdout.write('lint or typecheck failed (see above)\n');
  failed += 1;
}
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(checks && tests && failed === 0 && passed > 0 ? 0 : 1);
