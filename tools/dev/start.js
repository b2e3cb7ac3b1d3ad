#!/usr/bin/env node
// One machine, whole system: the scheduler (embedded state) and one local agent.
// Usage: npm start            (Ctrl-C stops the agent, its tasks, then the scheduler)
// Env:   SINGULARITY_DATA_DIR (default .data), SINGULARITY_SCHEDULER_HTTP_PORT (7099),
//        SINGULARITY_AGENT_HTTP_PORT (5051), SHOW_LOGS=all to echo every log line.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');

const root = path.resolve(__dirname, '..', '..');
const dataDir = path.resolve(process.env.SINGULARITY_DATA_DIR || path.join(root, '.data'));
const logDir = path.join(dataDir, 'logs');
const schedulerPort = Number(process.env.SINGULARITY_SCHEDULER_HTTP_PORT || 7099);
const agentPort = Number(process.env.SINGULARITY_AGENT_HTTP_PORT || 5051);
const baseUrl = `http://localhost:${schedulerPort}/singularity`;
const showAll = process.env.SHOW_LOGS === 'all';
fs.mkdirSync(logDir, { recursive: true });

const LEVELS = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const children = new Map();

function start(name, entry, env) {
  const logFile = path.join(logDir, `${name}.log`);
  const out = fs.createWriteStream(logFile, { flags: 'a' });
  // Own process group: a terminal Ctrl-C reaches only this launcher, which stops children in order.
  const child = spawn(process.execPath, ['-r', path.join(root, 'tools/register.js'), path.join(root, entry)], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const echo = (line) => {
    out.write(line + '\n');
    let rec;
    try {
      rec = JSON.parse(line);
    } catch {
      process.stdout.write(`[${name}] ${line}\n`);
      return;
    }
    if (showAll || rec.level >= 40) {
      const extra = rec.err ? ` (${rec.err.message || JSON.stringify(rec.err)})` : '';
      process.stdout.write(`[${name}] ${LEVELS[rec.level] || rec.level} ${rec.msg}${extra}\n`);
    }
  };
  readline.createInterface({ input: child.stdout }).on('line', echo);
  readline.createInterface({ input: child.stderr }).on('line', (l) => {
    out.write(l + '\n');
    process.stdout.write(`[${name}] ${l}\n`);
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  children.set(name, { child, exited, logFile });
  exited.then(({ code, signal }) => {
    if (!stopping) {
      process.stdout.write(`[launcher] ${name} exited (${signal || code}); see ${logFile}. Stopping everything.\n`);
      void stopAll(1);
    }
  });
  return child;
}

async function waitFor(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return true;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return false;
}

let stopping = false;
async function stopOne(name, graceMs) {
  const entry = children.get(name);
  if (!entry || entry.child.exitCode !== null) return;
  try {
    process.kill(entry.child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timeout = new Promise((r) => setTimeout(() => r('timeout'), graceMs));
  if ((await Promise.race([entry.exited, timeout])) === 'timeout') {
    process.stdout.write(`[launcher] ${name} did not stop within ${graceMs / 1000} s; killing its process group\n`);
    try {
      process.kill(-entry.child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  process.stdout.write('[launcher] stopping: agent (and its tasks) first, then the scheduler\n');
  await stopOne('agent', 60000);
  await stopOne('scheduler', 15000);
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

(async () => {
  process.stdout.write(`[launcher] data in ${dataDir}, logs in ${logDir}\n`);
  start('scheduler', 'apps/scheduler/src/main.ts', {
    SINGULARITY_SCHEDULER_HTTP_PORT: String(schedulerPort),
    SINGULARITY_SCHEDULER_DATA_DIR: path.join(dataDir, 'scheduler'),
  });
  if (!(await waitFor(`${baseUrl}/api/state`, 60000))) {
    process.stdout.write(`[launcher] the scheduler did not answer within 60 s; see ${path.join(logDir, 'scheduler.log')}\n`);
    return stopAll(1);
  }
  start('agent', 'apps/agent/src/main.ts', {
    SINGULARITY_AGENT_SCHEDULER_URL: baseUrl,
    SINGULARITY_AGENT_HTTP_PORT: String(agentPort),
    SINGULARITY_AGENT_DATA_DIR: path.join(dataDir, 'agent'),
    SINGULARITY_AGENT_KILL_TASKS_ON_SHUTDOWN: 'true',
    // Ctrl-C should not wait minutes for a task that ignores SIGTERM; deploys may still set their own.
    SINGULARITY_AGENT_DEFAULT_SIG_KILL_PROCESSES_AFTER_MILLIS: process.env.SINGULARITY_AGENT_DEFAULT_SIG_KILL_PROCESSES_AFTER_MILLIS || '10000',
  });
  if (!(await waitFor(`http://localhost:${agentPort}/agent/health`, 60000))) {
    process.stdout.write(`[launcher] the agent did not answer within 60 s; see ${path.join(logDir, 'agent.log')}\n`);
    return stopAll(1);
  }
  process.stdout.write(
    [
      '',
      'Singularity is up:',
      `  API        ${baseUrl}/api   (try: curl ${baseUrl}/api/state)`,
      `  API docs   ${baseUrl}/api-docs`,
      `  Agent      http://localhost:${agentPort}/agent/health`,
      `  Logs       ${logDir}/{scheduler,agent}.log   (warnings and errors are echoed here)`,
      'Press Ctrl-C to stop (running tasks are killed first).',
      '',
    ].join('\n'),
  );
})();
