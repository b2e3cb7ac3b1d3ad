// First import: signal handlers go in before the heavier modules load.
import { onKillSignal } from './early-signals';
import { parseArgs } from 'node:util';
import { loadExecutorConfig, runExecutor } from '@singularity/executor-feature';

/**
 * The task executor (spec slave §1). The agent starts one per task:
 *
 *   node -r ./tools/register.js apps/executor/src/main.ts --task-definition <controlDirectory>/task.json [--config <executor.yaml>]
 *
 * The configuration file (spec slave §1.10; sections base, s3, executor) comes
 * from `--config` or `SINGULARITY_EXECUTOR_CONFIG`. `--check-config` only
 * validates it: the agent runs that once at start so that a bad file stops
 * the agent rather than failing every task.
 *
 * Exit codes: 0 after a terminal status update (or a valid config), 1 for an
 * unusable task definition, 2 when the executor itself failed, 64 for bad
 * arguments, 78 for an invalid configuration under --check-config.
 */
const USAGE = 'usage: main.ts --task-definition <task.json> [--config <file>] [--exit-delay-millis <n>]\n       main.ts --check-config [--config <file>]';

type Parsed =
  | { mode: 'run'; taskDefinitionFile: string; configFile?: string; exitDelayMillis?: number }
  | { mode: 'check'; configFile?: string }
  | { exit: number; text: string };

function parseArguments(argv: string[], env: NodeJS.ProcessEnv): Parsed {
  let values: { 'task-definition'?: string; config?: string; 'check-config'?: boolean; 'exit-delay-millis'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'task-definition': { type: 'string' },
        config: { type: 'string' },
        'check-config': { type: 'boolean' },
        'exit-delay-millis': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    return { exit: 64, text: `${(err as Error).message}\n${USAGE}` };
  }
  if (values.help) return { exit: 0, text: USAGE };
  const configFile = values.config ?? (env['SINGULARITY_EXECUTOR_CONFIG'] || undefined);
  if (values['check-config']) return { mode: 'check', configFile };
  if (!values['task-definition']) return { exit: 64, text: `--task-definition is required\n${USAGE}` };
  const delay = values['exit-delay-millis'] === undefined ? undefined : Number(values['exit-delay-millis']);
  if (delay !== undefined && (!Number.isInteger(delay) || delay < 0)) return { exit: 64, text: `--exit-delay-millis must be a non-negative integer\n${USAGE}` };
  return { mode: 'run', taskDefinitionFile: values['task-definition'], configFile, exitDelayMillis: delay };
}

const args = parseArguments(process.argv.slice(2), process.env);
if ('exit' in args) {
  (args.exit === 0 ? process.stdout : process.stderr).write(`${args.text}\n`);
  process.exit(args.exit);
}
if (args.mode === 'check') {
  try {
    loadExecutorConfig(args.configFile, process.env);
    process.stdout.write(`executor configuration ${args.configFile ?? '(defaults)'} is valid\n`);
    process.exit(0);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(78);
  }
}

// A bug must not end the executor silently; the agent notices its exit and ends the task.
const die = (err: unknown) => {
  process.stderr.write(`executor failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(2);
};
process.on('uncaughtException', die);
process.on('unhandledRejection', die);

runExecutor({ ...args, env: process.env, onKillSignal: (listener) => onKillSignal(() => listener()) }).then(
  (code) => process.exit(code),
  die,
);
