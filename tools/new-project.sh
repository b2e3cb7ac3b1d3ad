#!/usr/bin/env bash
# Creates the skeleton of a project: tools/new-project.sh <dir> <name> <tags comma-separated> <library|application>
set -euo pipefail
dir=$1 name=$2 tags=$3 kind=${4:-library}
mkdir -p "$dir/src"
depth=$(echo "$dir" | awk -F/ '{print NF}')
up=$(printf '../%.0s' $(seq 1 "$depth"))
tagsjson=$(echo "$tags" | awk -F, '{for(i=1;i<=NF;i++){printf "%s\"%s\"", (i>1?", ":""), $i}}')
cat > "$dir/project.json" <<JSON
{
  "name": "$name",
  "\$schema": "${up}node_modules/nx/schemas/project-schema.json",
  "sourceRoot": "$dir/src",
  "projectType": "$kind",
  "tags": [$tagsjson],
  "targets": {
    "test": {
      "executor": "nx:run-commands",
      "options": { "command": "jest -c $dir/jest.config.js", "cwd": "{workspaceRoot}" }
    },
    "lint": {
      "executor": "nx:run-commands",
      "options": { "command": "eslint $dir", "cwd": "{workspaceRoot}" }
    },
    "typecheck": {
      "executor": "nx:run-commands",
      "options": { "command": "tsc -p $dir/tsconfig.json --noEmit", "cwd": "{workspaceRoot}" }
    }
  }
}
JSON
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "${up}tsconfig.base.json",
  "compilerOptions": { "types": ["node", "jest"] },
  "include": ["src/**/*.ts"]
}
JSON
cat > "$dir/jest.config.js" <<JS
module.exports = {
  ...require('${up}jest.preset.js'),
  displayName: '$name',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
JS
[ -f "$dir/src/index.ts" ] || echo "export {};" > "$dir/src/index.ts"
