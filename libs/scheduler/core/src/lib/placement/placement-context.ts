import type {
  AgentPlacement,
  RequestType,
  SingularityDeploy,
  SingularityPendingTask,
  SingularityRequest,
} from '@singularity/models';
import type {
  PlacedTaskInfo,
  PlacementAgent,
  PlacementInput,
  PlacementSettings,
  PlacementTask,
  ScalarResources,
} from './placement.types';
import { taskPriorityLevel, taskWeight } from './task-priority';

/**
 * The working state of one planning round: a copy of every agent's free resources and ports, and
 * per-deploy / per-request counts of tasks by host and rack. Checks read it, the planner writes it
 * (through `commit`) after each placement, so later tasks see what earlier ones took. Everything a
 * check needs is one map lookup away, which keeps each check O(1) (Kubernetes' CycleState idea).
 */

/** Tasks of one deploy on one host: running ones and ones being cleaned up. */
export interface HostTally {
  active: number;
  cleaning: number;
}

/** Where a deploy's tasks are: by host (all) and by rack (non-cleaning only, for rackSensitive). */
export class DeployTally {
  readonly hosts = new Map<string, HostTally>();
  readonly racks = new Map<string, number>();
}

/** Where a request's tasks are, any deploy, cleaning included (SEPARATE_BY_REQUEST, OPTIMISTIC, caps). */
export class RequestTally {
  /** Placed plus planned tasks. */
  tasks = 0;
  /** Tasks per host; a host appears once it holds one. */
  readonly hosts = new Map<string, number>();
  /** Attributes of the agent of each task (undefined when the agent is not in the snapshot). */
  readonly agentAttributes: Array<Readonly<Record<string, string>> | undefined> = [];
  /** Due pending tasks of the request in this round. */
  pending = 0;
}

type AttributeList = ReadonlyArray<readonly [string, string]>;
const NO_ATTRIBUTES: AttributeList = Object.freeze([]);

function attributeList(attributes: Record<string, string> | undefined | null): AttributeList {
  if (!attributes) return NO_ATTRIBUTES;
  const entries = Object.entries(attributes);
  return entries.length ? entries : NO_ATTRIBUTES;
}

/** The first non-empty map: pending-task overrides win over the request's own attributes. */
function firstNonEmpty(
  ...candidates: Array<Record<string, string> | undefined | null>
): Record<string, string> | undefined {
  for (const c of candidates) if (c && Object.keys(c).length > 0) return c;
  return undefined;
}

/**
 * Free cpus, memory, disk and port count of every agent in the working copy, one typed array per
 * resource, indexed by `AgentOffer.index`. A round compares a task with thousands of agents, most
 * of which are short of something; dense arrays keep that scan in cache.
 */
export class FreeResources {
  readonly cpus: Float64Array;
  readonly memoryMb: Float64Array;
  readonly diskMb: Float64Array;
  readonly ports: Float64Array;

  constructor(size: number) {
    this.cpus = new Float64Array(size);
    this.memoryMb = new Float64Array(size);
    this.diskMb = new Float64Array(size);
    this.ports = new Float64Array(size);
  }
}

/** One agent's offer: its free resources and ports in this plan's working copy. */
export class AgentOffer {
  readonly agentId: string;
  readonly host: string;
  readonly rackId: string;
  /** Agent and rack ACTIVE. */
  readonly schedulable: boolean;
  readonly total: Readonly<ScalarResources>;
  readonly reservedAttributes: AttributeList;
  /** Launches planned on this agent in this round. */
  launches = 0;
  private launchesByRequest: Map<string, number> | undefined;
  private usedPorts: ReadonlySet<number>;
  private ownsUsedPorts = false;
  /** Every port of the range below the cursor is taken, so the next search starts here. */
  private portCursor: number;

  constructor(
    readonly index: number,
    readonly agent: PlacementAgent,
    /** Where this offer's free amounts live (shared by all offers of the round). */
    readonly free: FreeResources,
  ) {
    this.agentId = agent.agentId;
    this.host = agent.host;
    this.rackId = agent.rackId;
    this.schedulable = agent.state === 'ACTIVE' && agent.rackState === 'ACTIVE';
    this.total = agent.total;
    this.reservedAttributes = attributeList(agent.reservedAttributes);
    free.cpus[index] = agent.total.cpus - agent.used.cpus;
    free.memoryMb[index] = agent.total.memoryMb - agent.used.memoryMb;
    free.diskMb[index] = agent.total.diskMb - agent.used.diskMb;
    this.usedPorts = agent.usedPorts;
    const { begin, end } = agent.portRange;
    let usedInRange = 0;
    for (const port of agent.usedPorts) if (port >= begin && port <= end) usedInRange++;
    free.ports[index] = Math.max(0, end - begin + 1) - usedInRange;
    this.portCursor = begin;
  }

  get freeCpus(): number {
    return this.free.cpus[this.index];
  }

  get freeMemoryMb(): number {
    return this.free.memoryMb[this.index];
  }

  get freeDiskMb(): number {
    return this.free.diskMb[this.index];
  }

  get freePorts(): number {
    return this.free.ports[this.index];
  }

  /** Launches of one request planned on this agent in this round. */
  launchesOf(requestId: string): number {
    return this.launchesByRequest?.get(requestId) ?? 0;
  }

  /** Takes the resources and the lowest free ports for `task`; returns the ports. */
  reserve(task: DueTask): number[] {
    this.free.cpus[this.index] -= task.cpus;
    this.free.memoryMb[this.index] -= task.memoryMb;
    this.free.diskMb[this.index] -= task.diskMb;
    this.launches++;
    this.launchesByRequest ??= new Map();
    this.launchesByRequest.set(task.requestId, this.launchesOf(task.requestId) + 1);
    return this.takePorts(task.numPorts);
  }

  private takePorts(count: number): number[] {
    if (count <= 0) return [];
    if (!this.ownsUsedPorts) {
      // Copy on first write: the snapshot's set is shared and read-only.
      this.usedPorts = new Set(this.usedPorts);
      this.ownsUsedPorts = true;
    }
    const used = this.usedPorts as Set<number>;
    const end = this.agent.portRange.end;
    const ports: number[] = [];
    let port = this.portCursor;
    for (; ports.length < count && port <= end; port++) {
      if (!used.has(port)) {
        used.add(port);
        ports.push(port);
      }
    }
    this.portCursor = port;
    this.free.ports[this.index] -= ports.length;
    return ports;
  }
}

/** A due pending task with everything the checks ask about resolved once. */
export class DueTask {
  readonly pendingTaskId: string;
  readonly requestId: string;
  readonly deployId: string;
  readonly request: SingularityRequest;
  readonly deploy: SingularityDeploy;
  readonly pendingTask: SingularityPendingTask;
  readonly requestType: RequestType;
  readonly cpus: number;
  readonly memoryMb: number;
  readonly diskMb: number;
  readonly numPorts: number;
  /** `max(now − nextRunAt, 1) × priority`; the planner serves the heaviest first. */
  readonly weight: number;
  readonly placement: AgentPlacement;
  /** `instances`, default 1 (spec §1). */
  readonly instances: number;
  readonly rackSensitive: boolean;
  readonly rackAffinity: ReadonlySet<string> | undefined;
  readonly requiredAttributes: AttributeList;
  readonly allowedAttributes: AttributeList;
  readonly attributeMinimums: Record<string, Record<string, number>> | undefined;
  /** SEPARATE-like placement may let this bounce replacement join the deploy's cleaning tasks. */
  readonly bounceMayShareHost: boolean;
  /** The request's own `maxTasksPerOffer`; 0 = none. */
  readonly maxTasksPerOffer: number;

  constructor(
    readonly task: PlacementTask,
    readonly deployTally: DeployTally,
    readonly requestTally: RequestTally,
    settings: PlacementSettings,
    now: number,
  ) {
    const { request, pendingTask } = task;
    this.pendingTaskId = task.pendingTaskId;
    this.requestId = task.requestId;
    this.deployId = task.deployId;
    this.request = request;
    this.deploy = task.deploy;
    this.pendingTask = pendingTask;
    this.requestType = request.requestType;
    this.cpus = task.resources.cpus ?? 0;
    this.memoryMb = task.resources.memoryMb ?? 0;
    this.diskMb = task.resources.diskMb ?? 0;
    this.numPorts = task.resources.numPorts ?? 0;
    this.weight = taskWeight(task.nextRunAt, now, taskPriorityLevel(request, settings));
    this.placement = request.agentPlacement ?? request.slavePlacement ?? settings.defaultAgentPlacement;
    this.instances = request.instances ?? 1;
    this.rackSensitive = request.rackSensitive === true;
    this.rackAffinity = request.rackAffinity?.length ? new Set(request.rackAffinity) : undefined;
    this.requiredAttributes = attributeList(
      firstNonEmpty(
        pendingTask.requiredAgentAttributeOverrides,
        pendingTask.requiredSlaveAttributeOverrides,
        request.requiredAgentAttributes,
        request.requiredSlaveAttributes,
      ),
    );
    this.allowedAttributes = attributeList(
      firstNonEmpty(
        pendingTask.allowedAgentAttributeOverrides,
        pendingTask.allowedSlaveAttributeOverrides,
        request.allowedAgentAttributes,
        request.allowedSlaveAttributes,
      ),
    );
    const minimums = request.agentAttributeMinimums ?? request.slaveAttributeMinimums;
    this.attributeMinimums = minimums && Object.keys(minimums).length ? minimums : undefined;
    this.bounceMayShareHost =
      task.isBounceReplacement === true && (request.allowBounceToSameHost ?? settings.allowBounceToSameHost);
    this.maxTasksPerOffer = request.maxTasksPerOffer ?? 0;
  }

  private wishes: Readonly<Record<string, string>> | undefined;

  /** Required and allowed attributes together (allowed win on a shared key), for reserved agents. */
  attributeWishes(): Readonly<Record<string, string>> {
    return (this.wishes ??= Object.fromEntries([...this.requiredAttributes, ...this.allowedAttributes]));
  }
}

export class PlacementContext {
  readonly settings: PlacementSettings;
  readonly now: number;
  readonly offers: readonly AgentOffer[];
  readonly free: FreeResources;
  /** Racks that are ACTIVE and hold at least one ACTIVE agent: the divisor of rackSensitive. */
  readonly activeRackCount: number;
  readonly hasReservedAgents: boolean;
  private readonly offersById = new Map<string, AgentOffer>();
  private readonly deployTallies = new Map<string, DeployTally>();
  private readonly requestTallies = new Map<string, RequestTally>();

  constructor(input: Pick<PlacementInput, 'agents' | 'placed' | 'tasks' | 'settings' | 'now'>) {
    this.settings = input.settings;
    this.now = input.now;
    this.free = new FreeResources(input.agents.length);
    this.offers = input.agents.map((agent, i) => new AgentOffer(i, agent, this.free));
    const activeRacks = new Set<string>();
    let reserved = false;
    for (const offer of this.offers) {
      this.offersById.set(offer.agentId, offer);
      if (offer.schedulable) activeRacks.add(offer.rackId);
      if (offer.reservedAttributes.length) reserved = true;
    }
    this.activeRackCount = activeRacks.size;
    this.hasReservedAgents = reserved;
    for (const placed of input.placed) this.countPlaced(placed);
    for (const task of input.tasks) this.requestTally(task.requestId).pending++;
  }

  offer(agentId: string): AgentOffer | undefined {
    return this.offersById.get(agentId);
  }

  deployTally(requestId: string, deployId: string): DeployTally {
    // '/' appears in neither id (spec §1), so the key is unambiguous.
    const key = `${requestId}/${deployId}`;
    let tally = this.deployTallies.get(key);
    if (!tally) this.deployTallies.set(key, (tally = new DeployTally()));
    return tally;
  }

  requestTally(requestId: string): RequestTally {
    let tally = this.requestTallies.get(requestId);
    if (!tally) this.requestTallies.set(requestId, (tally = new RequestTally()));
    return tally;
  }

  dueTask(task: PlacementTask): DueTask {
    return new DueTask(
      task,
      this.deployTally(task.requestId, task.deployId),
      this.requestTally(task.requestId),
      this.settings,
      this.now,
    );
  }

  /** Records a planned launch: the agent's resources and ports, and every tally. Returns the ports. */
  commit(task: DueTask, offer: AgentOffer): number[] {
    const ports = offer.reserve(task);
    this.count(task.deployTally, task.requestTally, offer.host, offer.rackId, false, offer.agent.attributes);
    return ports;
  }

  private countPlaced(placed: PlacedTaskInfo): void {
    this.count(
      this.deployTally(placed.requestId, placed.deployId),
      this.requestTally(placed.requestId),
      placed.host,
      placed.rackId,
      placed.cleaning,
      this.offersById.get(placed.agentId)?.agent.attributes,
    );
  }

  private count(
    deploy: DeployTally,
    request: RequestTally,
    host: string,
    rackId: string,
    cleaning: boolean,
    attributes: Readonly<Record<string, string>> | undefined,
  ): void {
    let onHost = deploy.hosts.get(host);
    if (!onHost) deploy.hosts.set(host, (onHost = { active: 0, cleaning: 0 }));
    if (cleaning) onHost.cleaning++;
    else {
      onHost.active++;
      deploy.racks.set(rackId, (deploy.racks.get(rackId) ?? 0) + 1);
    }
    request.tasks++;
    request.hosts.set(host, (request.hosts.get(host) ?? 0) + 1);
    request.agentAttributes.push(attributes);
  }
}

export function createPlacementContext(
  input: Pick<PlacementInput, 'agents' | 'placed' | 'tasks' | 'settings' | 'now'>,
): PlacementContext {
  return new PlacementContext(input);
}
