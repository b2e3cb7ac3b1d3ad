// Runs TypeScript sources directly: `node -r ./tools/register.js app.ts`.
// @swc-node/register compiles each file with swc (decorator metadata on, for
// NestJS) and resolves the tsconfig path aliases of tsconfig.base.json.
const path = require('node:path');
process.env.SWC_NODE_PROJECT = process.env.SWC_NODE_PROJECT || path.join(__dirname, '..', 'tsconfig.base.json');
require('@swc-node/register');
