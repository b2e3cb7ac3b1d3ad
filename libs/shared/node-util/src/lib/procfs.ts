import { readFileSync, readdirSync } from 'node:fs';

/**
 * What the agent, the executor, the scheduler's state-directory lock and the
 * test helpers ask the OS about processes, read from Linux's `/proc`.
 *
 * Why `/proc` and not only `kill(pid, 0)`: a zombie still answers a signal-0
 * probe, and in our containers PID 1 never reaps orphans, so a dead executor,
 * task or lock holder can stay a zombie for ever. Every liveness check here
 * therefore leaves zombies out. Where `/proc` says nothing (no procfs, or
 * `hidepid` hiding other users' processes) a signal-0 probe is the fallback.
 */

/** The fields of `/proc/<pid>/stat` that our callers use. */
export interface ProcStat {
  pid: number;
  /** The command name (at most 15 characters; it may hold spaces and parentheses). */
  comm: string;
  /** One letter: R, S, D, T, Z (zombie), X (dead), … */
  state: string;
  ppid: number;
  /** The process group id. */
  pgrp: number;
  /**
   * When the process started, in clock ticks since boot (field 22). A pid
   * together with its start time names one process even after the pid is reused.
   */
  startTime: number;
}

/** Parses `/proc/<pid>/stat`; undefined when there is no such process (or no /proc). */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return parseProcStat(pid, text);
}

/** "pid (comm) state ppid pgrp session tty tpgid flags … starttime(22) …"; comm may hold spaces and ')'. */
function parseProcStat(pid: number, text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const fields = text.slice(close + 2).split(' ');
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: fields[0],
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    startTime: Number(fields[19]),
  };
}

/** A zombie (or a process being torn down) holds no resources and will never run again. */
function isZombie(stat: ProcStat): boolean {
  return stat.state === 'Z' || stat.state === 'X';
}

/** Start time of `pid` in clock ticks since boot (see {@link ProcStat.startTime}), when /proc tells it. */
export function processStartTime(pid: number): number | undefined {
  return readProcStat(pid)?.startTime;
}

/**
 * Whether `pid` runs and is not a zombie. With `expectedStartTime`, a process
 * that started at another time (the pid was reused, e.g. after a restart of
 * the container) counts as gone. When /proc has no entry for the pid, a
 * signal-0 probe decides (EPERM: it exists, as another user) and the start
 * time cannot be checked.
 */
export function isProcessAlive(pid: number, expectedStartTime?: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const stat = readProcStat(pid);
  if (stat) return !isZombie(stat) && (expectedStartTime === undefined || stat.startTime === expectedStartTime);
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Every process /proc lists; undefined when /proc cannot be read. */
export function listProcesses(): ProcStat[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const stats: ProcStat[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat) stats.push(stat);
  }
  return stats;
}

/**
 * Live (non-zombie) members of process group `pgid`. Empty when the group is
 * gone, and also where /proc cannot be read (use {@link isProcessGroupAlive}
 * for a yes/no that works there too).
 */
export function liveProcessGroupMembers(pgid: number): ProcStat[] {
  return (listProcesses() ?? []).filter((stat) => stat.pgrp === pgid && !isZombie(stat));
}

/** Whether any live (non-zombie) process is in group `pgid`; a signal-0 probe where /proc cannot be read. */
export function isProcessGroupAlive(pgid: number): boolean {
  const all = listProcesses();
  if (all) return all.some((stat) => stat.pgrp === pgid && !isZombie(stat));
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends `signal` to process `pid`. Returns false when it is gone (ESRCH); other errors are thrown. */
export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  // kill(0) and kill(-1) would reach our own group or every process we may signal.
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`refusing to signal process ${pid}`);
  return deliver(pid, signal);
}

/**
 * Sends `signal` to every process of group `pgid`. Returns false when the
 * group has no process left (ESRCH); other errors are thrown.
 */
export function signalProcessGroup(pgid: number, signal: NodeJS.Signals): boolean {
  // -1 would be "every process we may signal", and group 1 is init's.
  if (!Number.isInteger(pgid) || pgid <= 1) throw new RangeError(`refusing to signal process group ${pgid}`);
  return deliver(-pgid, signal);
}

function deliver(target: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/**
 * A live process other than this one whose command line holds `arg` as one
 * whole argv entry. The agent uses it after a crash between spawning an
 * executor and recording its pid. Undefined when there is none or no /proc.
 */
export function findProcessWithArg(arg: string): { pid: number; startTime?: number } | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv.includes(arg) && isProcessAlive(pid)) return { pid, startTime: processStartTime(pid) };
  }
  return undefined;
}

/**
 * SIGKILLs `pid`, its process group and the process groups of all its
 * descendants (found through /proc; without it only `pid` and its own group).
 * Needed where a child starts its work in process groups of its own, as the
 * executor does with tasks: killing only the child's group would orphan them.
 * Never signals init, this process or this process's own group.
 */
export function killProcessTree(pid: number): void {
  const groups = new Set<number>([pid]);
  const pids = new Set<number>([pid]);
  const children = new Map<number, ProcStat[]>();
  for (const stat of listProcesses() ?? []) {
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push(stat);
    children.set(stat.ppid, siblings);
  }
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const child of children.get(parent) ?? []) {
      if (pids.has(child.pid)) continue;
      pids.add(child.pid);
      groups.add(child.pgrp);
      queue.push(child.pid);
    }
  }
  const ownGroup = readProcStat(process.pid)?.pgrp ?? process.pid;
  for (const group of groups) if (group > 1 && group !== process.pid && group !== ownGroup) signalProcessGroup(group, 'SIGKILL');
  for (const p of pids) if (p > 1 && p !== process.pid) signalProcess(p, 'SIGKILL');
}
