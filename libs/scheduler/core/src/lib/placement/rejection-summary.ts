import type { Rejection } from './check';
import type { DueTask, FreeResources } from './placement-context';
import {
  NOT_ENOUGH_CPUS,
  NOT_ENOUGH_DISK,
  NOT_ENOUGH_MEMORY,
  NOT_ENOUGH_PORTS,
  REJECTION_LABELS,
  REJECTION_REASONS,
  type RejectionReason,
} from './rejection-reasons';

const CPUS = REJECTION_REASONS.indexOf(NOT_ENOUGH_CPUS);
const MEMORY = REJECTION_REASONS.indexOf(NOT_ENOUGH_MEMORY);
const DISK = REJECTION_REASONS.indexOf(NOT_ENOUGH_DISK);
const PORTS = REJECTION_REASONS.indexOf(NOT_ENOUGH_PORTS);

/**
 * The rejections one task collected: a count per reason and, for the resource reasons, the most
 * any of those agents had free, quoted as "wants 2048 MB, most free 1024 MB".
 */
export class RejectionTally {
  readonly counts = new Int32Array(REJECTION_REASONS.length);
  /** Indexed like `counts`; only the four resource reasons are filled. */
  readonly roomiest = new Float64Array(REJECTION_REASONS.length);

  /** Counts `rejection` of agent `index`, whose free amounts are in `free`. */
  add(rejection: Rejection, free: FreeResources, index: number): void {
    const i = rejection.index;
    this.counts[i]++;
    if (i === CPUS) this.roomiest[i] = Math.max(this.roomiest[i], free.cpus[index]);
    else if (i === MEMORY) this.roomiest[i] = Math.max(this.roomiest[i], free.memoryMb[index]);
    else if (i === DISK) this.roomiest[i] = Math.max(this.roomiest[i], free.diskMb[index]);
    else if (i === PORTS) this.roomiest[i] = Math.max(this.roomiest[i], free.ports[index]);
  }

  reset(): void {
    this.counts.fill(0);
    this.roomiest.fill(0);
  }

  copy(): RejectionTally {
    const out = new RejectionTally();
    out.counts.set(this.counts);
    out.roomiest.set(this.roomiest);
    return out;
  }

  /** Non-zero counts keyed by reason. */
  reasons(): Partial<Record<RejectionReason, number>> {
    const out: Partial<Record<RejectionReason, number>> = {};
    for (let i = 0; i < this.counts.length; i++) if (this.counts[i] > 0) out[REJECTION_REASONS[i]] = this.counts[i];
    return out;
  }
}

function formatAmount(value: number): string {
  return String(Math.round(value * 100) / 100);
}

function detail(reason: RejectionReason, task: DueTask, roomiest: number): string {
  switch (reason) {
    case 'NOT_ENOUGH_CPUS':
      return ` (wants ${formatAmount(task.cpus)}, most free ${formatAmount(roomiest)})`;
    case 'NOT_ENOUGH_MEMORY':
      return ` (wants ${formatAmount(task.memoryMb)} MB, most free ${formatAmount(roomiest)} MB)`;
    case 'NOT_ENOUGH_DISK':
      return ` (wants ${formatAmount(task.diskMb)} MB, most free ${formatAmount(roomiest)} MB)`;
    case 'NOT_ENOUGH_PORTS':
      return ` (wants ${task.numPorts}, most free ${roomiest})`;
    case 'RACK_AFFINITY_NOT_MATCHING':
      return ` (wants ${[...(task.rackAffinity ?? [])].join(', ')})`;
    case 'AGENT_ATTRIBUTES_DO_NOT_MATCH':
      return ` (${task.requiredAttributes.map(([k, v]) => `${k}=${v}`).join(', ')})`;
    case 'AGENT_SATURATED_BY_DEPLOY':
      return ` (${task.placement})`;
    case 'ON_DEMAND_INSTANCES_REACHED':
      return ` (${task.instances})`;
    default:
      return '';
  }
}

/**
 * "0 of 3 agents fit: 2 × not enough memory (wants 2048 MB, most free 1024 MB), 1 × agent FROZEN":
 * the most frequent reasons first, ties in `REJECTION_REASONS` order.
 */
export function summarizeRejections(task: DueTask, tally: RejectionTally, agentCount: number): string {
  const { counts, roomiest } = tally;
  const seen: number[] = [];
  for (let i = 0; i < counts.length; i++) if (counts[i] > 0) seen.push(i);
  const head = `0 of ${agentCount} agents fit`;
  if (seen.length === 0) return `${head}: no agents offered`;
  seen.sort((a, b) => counts[b] - counts[a] || a - b);
  let text = `${head}: `;
  for (let k = 0; k < seen.length; k++) {
    const i = seen[k];
    const reason = REJECTION_REASONS[i];
    text += `${k ? ', ' : ''}${counts[i]} × ${REJECTION_LABELS[reason]}${detail(reason, task, roomiest[i])}`;
  }
  return text;
}
