/**
 * Installed before anything else is loaded: the agent may send SIGTERM (a
 * kill) while the executor is still starting, and Node's default action would
 * end the executor without a status update. Signals are queued until the
 * executor subscribes.
 *
 * SIGHUP is ignored: the executor runs detached in its own session and must
 * outlive its agent. Writes to a closed stdout/stderr (the agent's pipe gone)
 * must not crash it either.
 */
type Listener = (signal: NodeJS.Signals) => void;

const queued: NodeJS.Signals[] = [];
let listener: Listener | undefined;

function onSignal(signal: NodeJS.Signals): void {
  if (listener) listener(signal);
  else queued.push(signal);
}

process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
process.on('SIGHUP', () => undefined);
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);

/** Subscribes to kill signals; signals queued so far are delivered at once. */
export function onKillSignal(next: Listener): void {
  listener = next;
  for (const signal of queued.splice(0)) next(signal);
}
