// Every project's jest config, run together by `npm test` (tools/ci/test.js).
const { readdirSync, existsSync } = require('node:fs');
const { join } = require('node:path');

const projects = [];
for (const top of ['apps', 'libs', 'e2e']) {
  const walk = (dir, depth) => {
    if (existsSync(join(dir, 'jest.config.js'))) projects.push(join(dir, 'jest.config.js'));
    if (depth === 0) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name !== 'node_modules' && entry.name !== 'src') walk(join(dir, entry.name), depth - 1);
    }
  };
  if (existsSync(join(__dirname, top))) walk(join(__dirname, top), 2);
}

// testTimeout is global (not per project) when projects run together: real processes and servers need room.
module.exports = { projects, maxWorkers: 2, testTimeout: 30000 };
