import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';

/**
 * Sends `signal` to every process of group `pgid`. Returns false when the
 * group has no process left (ESRCH); other errors are thrown.
 */
export function signalProcessGroup(pgid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new RangeError(`refusing to signal process group ${pgid}`);
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgrp: number;
  /** One letter of `/proc/<pid>/stat`: R, S, D, Z (zombie), … */
  state: string;
  comm: string;
}

/** Parses `/proc/<pid>/stat`; the command name may hold spaces and parentheses. */
export function readProcessInfo(pid: number): ProcessInfo | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const fields = text.slice(close + 2).split(' ');
  return { pid, comm: text.slice(open + 1, close), state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]) };
}

/**
 * Live members of process group `pgid`, from /proc. Zombies are left out:
 * they hold no resources, and orphans that died are reaped by init, or, where
 * init does not reap (some sandboxes), never.
 */
export function listProcessGroup(pgid: number): ProcessInfo[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const members: ProcessInfo[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const info = readProcessInfo(Number(entry));
    if (info && info.pgrp === pgid && info.state !== 'Z' && info.state !== 'X') members.push(info);
  }
  return members;
}

/** True while `pid` exists and is not a zombie. */
export function isProcessRunning(pid: number): boolean {
  const info = readProcessInfo(pid);
  return info !== undefined && info.state !== 'Z' && info.state !== 'X';
}

/** Exit status in the shell's convention: a death by signal N is 128 + N (143 SIGTERM, 137 SIGKILL). */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal !== null) {
    const signo = constants.signals[signal];
    if (signo !== undefined) return 128 + signo;
  }
  return 255;
}
