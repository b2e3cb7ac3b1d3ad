import type { MachineState } from '@singularity/models';
import type { ExtensionCollection, SchedulerState } from './scheduler-state';

export type ExpiringKind = 'pause' | 'scale' | 'bounce' | 'skipHealthchecks';

/**
 * An operator action that reverts by itself (spec §2.6 "Expiring actions"): one
 * per kind per request, stored with the live state, in the reference's
 * `SingularityExpiring*` shape (plus `kind` and `durationMillis`).
 */
export interface ExpiringRequestAction {
  kind: ExpiringKind;
  requestId: string;
  user?: string;
  startMillis: number;
  durationMillis: number;
  actionId: string;
  expiringAPIRequestObject: Record<string, unknown>;
  /** scale: the instance count to go back to. */
  revertToInstances?: number;
  /** bounce: the deploy being bounced. */
  deployId?: string;
  /** skipHealthchecks: the flag to go back to. */
  revertToSkipHealthchecks?: boolean;
}

/** A machine state change that reverts by itself (`SingularityExpiringMachineState`). */
export interface ExpiringMachineState {
  machineType: 'agent' | 'rack';
  machineId: string;
  user?: string;
  startMillis: number;
  durationMillis: number;
  actionId: string;
  revertToState: MachineState;
  killTasksOnDecommissionTimeout?: boolean;
  expiringAPIRequestObject: Record<string, unknown>;
}

const key = (requestId: string, kind: ExpiringKind) => `${requestId}:${kind}`;

/** Where expiring actions live and which are due. */
export class ExpiringActions {
  private readonly requests: ExtensionCollection<ExpiringRequestAction>;
  private readonly machines: ExtensionCollection<ExpiringMachineState>;

  constructor(state: SchedulerState) {
    this.requests = state.extension<ExpiringRequestAction>('expiring-request-actions');
    this.machines = state.extension<ExpiringMachineState>('expiring-machine-states');
  }

  get(requestId: string, kind: ExpiringKind): ExpiringRequestAction | undefined {
    return this.requests.get(key(requestId, kind));
  }

  set(action: ExpiringRequestAction): void {
    this.requests.put(key(action.requestId, action.kind), action);
  }

  /** Removes and returns the action, if there was one. */
  take(requestId: string, kind: ExpiringKind): ExpiringRequestAction | undefined {
    const action = this.get(requestId, kind);
    if (action) this.requests.delete(key(requestId, kind));
    return action;
  }

  /** Forgets every action of a request (it was deleted). */
  forgetRequest(requestId: string): void {
    for (const kind of ['pause', 'scale', 'bounce', 'skipHealthchecks'] as const) this.take(requestId, kind);
  }

  dueRequestActions(now: number): ExpiringRequestAction[] {
    return [...this.requests.values()].filter((a) => now >= a.startMillis + a.durationMillis);
  }

  machine(machineType: 'agent' | 'rack', machineId: string): ExpiringMachineState | undefined {
    return this.machines.get(`${machineType}:${machineId}`);
  }

  setMachine(expiring: ExpiringMachineState): void {
    this.machines.put(`${expiring.machineType}:${expiring.machineId}`, expiring);
  }

  takeMachine(machineType: 'agent' | 'rack', machineId: string): ExpiringMachineState | undefined {
    const found = this.machine(machineType, machineId);
    if (found) this.machines.delete(`${machineType}:${machineId}`);
    return found;
  }

  machineStates(machineType: 'agent' | 'rack'): ExpiringMachineState[] {
    return [...this.machines.values()].filter((m) => m.machineType === machineType);
  }

  dueMachineStates(now: number): ExpiringMachineState[] {
    return [...this.machines.values()].filter((m) => now >= m.startMillis + m.durationMillis);
  }
}
