import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  findProcessWithArg,
  isProcessAlive,
  isProcessGroupAlive,
  killProcessTree,
  liveProcessGroupMembers,
  processStartTime,
  readProcStat,
  signalProcess,
  signalProcessGroup,
} from './procfs';

// Real processes throughout. Orphans are reparented to PID 1, which in our
// containers never reaps them: they stay zombies, which is what these
// functions must see through.

const started: ChildProcess[] = [];

/** Starts `command` as the leader of a new process group; `lines` resolves with its first stdout lines. */
function startGroup(command: string, args: string[], lineCount = 0): { child: ChildProcess; pid: number; lines: Promise<string[]> } {
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(child);
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  let out = '';
  const lines = new Promise<string[]>((resolve, reject) => {
    const check = () => {
      const got = out.split('\n').slice(0, -1);
      if (got.length >= lineCount) resolve(got.slice(0, lineCount));
    };
    check();
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      check();
    });
    child.once('exit', () => reject(new Error(`${command} exited before printing ${lineCount} lines: ${out}`)));
  });
  return { child, pid: child.pid, lines };
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

/** Polls `condition` until it holds; fails (naming `what`) after a generous deadline. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.pid === undefined) continue;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // The group is gone already.
    }
    await exited(child);
  }
});

describe('readProcStat', () => {
  it('reads state, parent, process group and start time of a real process', async () => {
    const { pid } = startGroup('sleep', ['30']);
    const stat = readProcStat(pid);
    expect(stat).toMatchObject({ pid, ppid: process.pid, pgrp: pid }); // detached: it leads its own group
    expect(['R', 'S', 'D']).toContain(stat?.state);
    expect(Number.isSafeInteger(stat?.startTime)).toBe(true);
    expect(stat?.startTime).toBeGreaterThan(0);
    expect(processStartTime(pid)).toBe(stat?.startTime);
  });

  it('parses a command name holding spaces and parentheses', async () => {
    // Renames the shell itself (not an exec'd program, which would reset the name).
    const { pid, lines } = startGroup('bash', ['-c', 'printf "a) (b c" > /proc/$$/comm; echo renamed; sleep 30 & wait'], 1);
    await lines;
    expect(readProcStat(pid)).toMatchObject({ pid, comm: 'a) (b c', ppid: process.pid, pgrp: pid });
  });

  it('is undefined for a process that is gone', async () => {
    const { child, pid } = startGroup('true', []);
    await exited(child);
    expect(readProcStat(pid)).toBeUndefined();
    expect(processStartTime(pid)).toBeUndefined();
  });
});

describe('isProcessAlive', () => {
  it('is true for a running process, and with its own start time', () => {
    const { pid } = startGroup('sleep', ['30']);
    expect(isProcessAlive(pid)).toBe(true);
    expect(isProcessAlive(pid, processStartTime(pid))).toBe(true);
    expect(isProcessAlive(process.pid)).toBe(true);
  });

  it('treats another start time as a reused pid: gone', () => {
    const { pid } = startGroup('sleep', ['30']);
    expect(isProcessAlive(pid, (processStartTime(pid) as number) + 1)).toBe(false);
  });

  it('is false once the process exited, and for pids that cannot exist', async () => {
    const { child, pid } = startGroup('true', []);
    await exited(child);
    expect(isProcessAlive(pid)).toBe(false);
    expect(isProcessAlive(0)).toBe(false);
    expect(isProcessAlive(-1)).toBe(false);
    expect(isProcessAlive(1.5)).toBe(false);
  });

  it('does not count a zombie nobody reaps, though it still answers signal 0', async () => {
    // The background sleep stays the child of the shell's pid, which after `exec` is a program that never waits.
    const { pid, lines } = startGroup('sh', ['-c', 'sleep 30 & echo $!; exec sleep 31'], 1);
    const zombie = Number((await lines)[0]);
    await until(() => readProcStat(pid)?.comm === 'sleep', `the shell ${pid} has exec'd sleep`);
    process.kill(zombie, 'SIGKILL');
    await until(() => readProcStat(zombie)?.state === 'Z', `process ${zombie} is a zombie`);
    expect(() => process.kill(zombie, 0)).not.toThrow();
    expect(isProcessAlive(zombie)).toBe(false);
    expect(isProcessAlive(pid)).toBe(true);
  });
});

describe('process groups', () => {
  it('lists the live members of a group, and none once it was killed (zombies left out)', async () => {
    const { child, pid, lines } = startGroup('sh', ['-c', 'sleep 30 & echo $!; wait'], 1);
    const member = Number((await lines)[0]);
    expect(liveProcessGroupMembers(pid).map((stat) => stat.pid).sort((a, b) => a - b)).toEqual([pid, member].sort((a, b) => a - b));
    expect(isProcessGroupAlive(pid)).toBe(true);

    expect(signalProcessGroup(pid, 'SIGKILL')).toBe(true);
    await exited(child);
    // The orphaned sleep may stay a zombie of PID 1 for ever; it must not count.
    await until(() => liveProcessGroupMembers(pid).length === 0, `group ${pid} has no live member`);
    expect(isProcessGroupAlive(pid)).toBe(false);
    expect(isProcessAlive(member)).toBe(false);
  });

  it('signalProcessGroup reports a group without processes as not delivered', async () => {
    const { child, pid } = startGroup('true', []);
    await exited(child);
    expect(signalProcessGroup(pid, 'SIGTERM')).toBe(false);
    expect(liveProcessGroupMembers(pid)).toEqual([]);
  });

  it('refuses to signal pids and groups that would reach this process, init or everything', () => {
    for (const pgid of [-1, 0, 1, 2.5]) expect(() => signalProcessGroup(pgid, 'SIGTERM')).toThrow(RangeError);
    for (const pid of [-1, 0, 2.5]) expect(() => signalProcess(pid, 'SIGTERM')).toThrow(RangeError);
  });
});

describe('signalProcess', () => {
  it('delivers to a running process and reports a gone one', async () => {
    const { child, pid } = startGroup('sleep', ['30']);
    expect(signalProcess(pid, 'SIGTERM')).toBe(true);
    await exited(child);
    expect(child.signalCode).toBe('SIGTERM');
    expect(signalProcess(pid, 'SIGTERM')).toBe(false);
  });
});

describe('findProcessWithArg', () => {
  it('finds the live process with the argument as one argv entry, with its start time', async () => {
    const marker = `procfs-spec-${randomUUID()}`;
    const { pid, lines } = startGroup(process.execPath, ['-e', 'console.log("up"); setInterval(() => undefined, 1000)', marker], 1);
    await lines;
    expect(findProcessWithArg(marker)).toEqual({ pid, startTime: processStartTime(pid) });
    expect(findProcessWithArg(marker.slice(0, -1))).toBeUndefined(); // a prefix is not the argument
    expect(findProcessWithArg(`procfs-spec-${randomUUID()}`)).toBeUndefined();
  });
});

describe('killProcessTree', () => {
  it('kills a process and descendants that run in process groups of their own', async () => {
    // A node process that starts a grandchild in a new session, as the executor starts tasks.
    const script = 'const c = require("child_process").spawn("sleep", ["30"], { detached: true, stdio: "ignore" }); console.log(String(c.pid)); setInterval(() => undefined, 1000)';
    const { child, pid, lines } = startGroup(process.execPath, ['-e', script], 1);
    const grandchild = Number((await lines)[0]);
    expect(readProcStat(grandchild)).toMatchObject({ ppid: pid, pgrp: grandchild });

    killProcessTree(pid);
    await exited(child);
    expect(child.signalCode).toBe('SIGKILL');
    await until(() => !isProcessAlive(grandchild), `grandchild ${grandchild} is gone`);
    expect(isProcessGroupAlive(grandchild)).toBe(false);
    expect(isProcessAlive(process.pid)).toBe(true);
  });
});
