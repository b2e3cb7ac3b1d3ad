import { Agent, loadAgentConfig } from '@singularity/agent-feature';
import { createLogger, onShutdown } from '@singularity/node-util';

/** The node agent: `node -r ./tools/register.js apps/agent/src/main.ts [--config agent.yaml]`. */
async function main(): Promise<void> {
  const config = loadAgentConfig();
  const logger = createLogger('agent');
  const agent = new Agent(config, { logger });
  await agent.start();
  onShutdown(logger, () => agent.stop());
}

main().catch((err) => {
  // Start-up failures (bad config, port in use, data dir held by another agent) end the process naming the cause.
  process.stderr.write(`agent failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
