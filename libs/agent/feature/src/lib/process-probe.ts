import { readFileSync, readdirSync } from 'node:fs';

/**
 * What the agent asks the OS about executor processes. Executors are not
 * always the agent's children (after an agent restart they belong to init),
 * so liveness is probed by pid, guarded against pid reuse by the process's
 * start time (`/proc/<pid>/stat` field 22, clock ticks since boot).
 */

interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  startTime: number;
}

function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp session tty tpgid flags ... starttime(22)"; comm may hold spaces and ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]), startTime: Number(fields[19]) };
}

function hasProc(): boolean {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
}

const procAvailable = hasProc();

/** Start time of `pid` in clock ticks since boot, when /proc tells it. */
export function processStartTime(pid: number): number | undefined {
  return readProcStat(pid)?.startTime;
}

/**
 * Whether `pid` runs and is not a zombie. With `expectedStartTime`, a process
 * that started at another time (the pid was reused, e.g. after a reboot) counts as gone.
 */
export function isProcessAlive(pid: number, expectedStartTime?: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (procAvailable) {
    const stat = readProcStat(pid);
    if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
    return expectedStartTime === undefined || stat.startTime === expectedStartTime;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends `signal` to a process or (negative id) a process group; false when it is gone. */
export function sendSignal(pidOrNegativePgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pidOrNegativePgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/**
 * A running process whose command line holds `arg` exactly (one argv entry).
 * Used after a crash between spawning an executor and recording its pid.
 */
export function findProcessWithArg(arg: string): { pid: number; startTime?: number } | undefined {
  if (!procAvailable) return undefined;
  for (const entry of readdirSync('/proc')) {
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
 * descendants. Executors start tasks in process groups of their own, so
 * killing only the executor's group would orphan the task.
 */
export function killProcessTree(pid: number): void {
  const groups = new Set<number>([pid]);
  const pids = new Set<number>([pid]);
  if (procAvailable) {
    const children = new Map<number, ProcStat[]>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = readProcStat(Number(entry));
      if (!stat) continue;
      const list = children.get(stat.ppid) ?? [];
      list.push(stat);
      children.set(stat.ppid, list);
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
  }
  for (const group of groups) if (group > 1 && group !== process.pid) sendSignal(-group, 'SIGKILL');
  for (const p of pids) if (p > 1 && p !== process.pid) sendSignal(p, 'SIGKILL');
}
