// Module boundaries (conventions §7): apps compose libs; the scheduling domain
// stays pure (no NestJS, TypeORM, pg, ZooKeeper, fs, child_process, execa).
import nx from '@nx/eslint-plugin';

const ioModules = [
  '@nestjs/*',
  'typeorm',
  'pg',
  'zookeeper',
  'node-zookeeper-client',
  'fs',
  'node:fs',
  'fs/promises',
  'node:fs/promises',
  'child_process',
  'node:child_process',
  'execa',
  'net',
  'node:net',
  'http',
  'node:http',
];

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  ...nx.configs['flat/javascript'],
  { ignores: ['**/node_modules', '**/dist', '**/tmp', '**/.nx', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  {
    files: ['**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:feature', 'type:data-access', 'type:domain', 'type:util', 'type:testing'] },
            { sourceTag: 'type:feature', onlyDependOnLibsWithTags: ['type:feature', 'type:data-access', 'type:domain', 'type:util', 'type:testing'] },
            { sourceTag: 'type:data-access', onlyDependOnLibsWithTags: ['type:data-access', 'type:domain', 'type:util', 'type:testing'] },
            { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:domain', 'type:util', 'type:testing'], bannedExternalImports: ioModules },
            { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util'] },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:feature', 'type:data-access', 'type:domain', 'type:util', 'type:testing'] },
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
            { sourceTag: 'scope:scheduler', onlyDependOnLibsWithTags: ['scope:scheduler', 'scope:shared'] },
            { sourceTag: 'scope:agent', onlyDependOnLibsWithTags: ['scope:agent', 'scope:shared'] },
            { sourceTag: 'scope:executor', onlyDependOnLibsWithTags: ['scope:executor', 'scope:shared'] },
            { sourceTag: 'scope:s3-uploader', onlyDependOnLibsWithTags: ['scope:s3-uploader', 'scope:shared'] },
            { sourceTag: 'scope:log-watcher', onlyDependOnLibsWithTags: ['scope:log-watcher', 'scope:shared'] },
            { sourceTag: 'scope:oom-killer', onlyDependOnLibsWithTags: ['scope:oom-killer', 'scope:shared'] },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // @nx/enforce-module-boundaries bans npm packages only; Node's built-in I/O modules are banned
    // here for the domain libs' code (specs may use them to check results against a real shell).
    // Add every project tagged type:domain to `files`.
    files: ['libs/scheduler/core/src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(node:)?(fs|fs/promises|child_process|net|http|https|http2|dgram|dns|tls|cluster|worker_threads|os|process)$',
              message: 'The scheduling domain is pure (conventions §1): do I/O in a feature or data-access lib behind a port.',
            },
          ],
        },
      ],
    },
  },
];
