// First import: signal handlers go in before the heavier modules load.
import { onKillSignal } from './early-signals';
import { parseArgs } from 'node:util';
import { DEFAULT_EXIT_DELAY_MILLIS, runExecutor } from '@singularity/executor-feature';

/**
 * The task executor (spec slave §1). The agent starts one per task:
 *
 *   node -r tools/register.js apps/executor/src/main.ts --task-definition <controlDirectory>/task.json
 *
 * Exit codes: 0 after a terminal status update, 1 for an unusable task
 * definition, 2 when the executor itself failed, 64 for bad arguments.
 */
const USAGE = 'usage: main.ts --task-definition <task.json> [--exit-delay-millis <n>]';

function parseArguments(argv: string[]): { taskDefinitionFile: string; exitDelayMillis: number } | { exit: number; text: string } {
  let values: { 'task-definition'?: string; 'exit-delay-millis'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'task-definition': { type: 'string' },
        'exit-delay-millis': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    return { exit: 64, text: `${(err as Error).message}\n${USAGE}` };
  }
  if (values.help) return { exit: 0, text: USAGE };
  if (!values['task-definition']) return { exit: 64, text: `--task-definition is required\n${USAGE}` };
  const delay = values['exit-delay-millis'] === undefined ? DEFAULT_EXIT_DELAY_MILLIS : Number(values['exit-delay-millis']);
  if (!Number.isInteger(delay) || delay < 0) return { exit: 64, text: `--exit-delay-millis must be a non-negative integer\n${USAGE}` };
  return { taskDefinitionFile: values['task-definition'], exitDelayMillis: delay };
}

const args = parseArguments(process.argv.slice(2));
if ('exit' in args) {
  (args.exit === 0 ? process.stdout : process.stderr).write(`${args.text}\n`);
  process.exit(args.exit);
}

// A bug must not end the executor silently; the agent notices its exit and ends the task.
const die = (err: unknown) => {
  process.stderr.write(`executor failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(2);
};
process.on('uncaughtException', die);
process.on('unhandledRejection', die);

runExecutor({ ...args, onKillSignal: (listener) => onKillSignal(() => listener()) }).then(
  (code) => process.exit(code),
  die,
);
