import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isProcessAlive, processStartTime } from '@singularity/node-util';
import { ConflictError } from '@singularity/util';
import { writeFileAtomic } from './control-files';

/**
 * The agent's id, generated once and kept in `<dataDir>/agent-id`: the
 * scheduler recognises a restarted agent (and its tasks) by it.
 */
export function loadOrCreateAgentId(dataDir: string): { agentId: string; created: boolean } {
  const file = join(dataDir, 'agent-id');
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing) return { agentId: existing, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const agentId = randomUUID();
  writeFileAtomic(file, `${agentId}\n`);
  return { agentId, created: true };
}

interface LockRecord {
  pid: number;
  processStartTime?: number;
}

/**
 * Claims `<dataDir>/agent.lock` for this process. Two agents relaying the same
 * status files would duplicate work and race on acks, so a second one refuses
 * to start. A lock left by a dead (or `kill -9`ed) agent is taken over.
 */
export function lockDataDir(dataDir: string): { release(): void } {
  const file = join(dataDir, 'agent.lock');
  let holder: LockRecord | undefined;
  try {
    holder = JSON.parse(readFileSync(file, 'utf8')) as LockRecord;
  } catch {
    holder = undefined;
  }
  if (holder && holder.pid !== process.pid && isProcessAlive(holder.pid, holder.processStartTime)) {
    throw new ConflictError(`data directory ${dataDir} is in use by another agent (pid ${holder.pid}); stop it or use another dataDir`);
  }
  const mine: LockRecord = { pid: process.pid, processStartTime: processStartTime(process.pid) };
  writeFileAtomic(file, JSON.stringify(mine));
  return {
    release() {
      try {
        const current = JSON.parse(readFileSync(file, 'utf8')) as LockRecord;
        if (current.pid === process.pid) rmSync(file, { force: true });
      } catch {
        // Already gone.
      }
    },
  };
}
