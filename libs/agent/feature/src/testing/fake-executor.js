#!/usr/bin/env node
// FakeExecutor: stands in for apps/executor in the agent's tests, with the same CLI:
//   node fake-executor.js [--launch-log FILE] --task-definition <controlDir>/task.json [--config FILE]
//   node fake-executor.js --check-config --config FILE   (accepts any configuration)
// It appends TASK_STARTING and TASK_RUNNING to the status file, runs `sleep`, and
// on SIGTERM appends TASK_KILLED (with kill.json's message) and exits.
// Behaviour comes from the task's env (ExecutorTaskDefinition.env):
//   FAKE_EXECUTOR_BEHAVIOUR = run (default): TASK_FINISHED when the sleep ends
//                           | crash: exit 3 right after TASK_RUNNING, without a terminal record
//                           | ignore-term: log SIGTERM and keep running
//   FAKE_EXECUTOR_SLEEP_SECONDS = how long the sleep runs (default 600)
// Every start appends "<pid> <taskId>" to the launch log, so tests can count launches.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');

function arg(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv.includes('--check-config')) process.exit(0);

const definitionFile = arg('--task-definition');
if (!definitionFile) {
  process.stderr.write('fake-executor: --task-definition is required\n');
  process.exit(2);
}
const def = JSON.parse(fs.readFileSync(definitionFile, 'utf8'));
const launchLog = arg('--launch-log');
if (launchLog) fs.appendFileSync(launchLog, `${process.pid} ${def.taskId}\n`);
const behaviour = (def.env && def.env.FAKE_EXECUTOR_BEHAVIOUR) || 'run';
const sleepSeconds = (def.env && def.env.FAKE_EXECUTOR_SLEEP_SECONDS) || '600';

function nextSeq() {
  let max = 0;
  for (const line of fs.readFileSync(def.statusFile, 'utf8').split('\n')) {
    try {
      max = Math.max(max, JSON.parse(line).seq || 0);
    } catch {
      /* partial or empty line */
    }
  }
  return max + 1;
}

function report(state, message, extra) {
  const record = { seq: nextSeq(), taskId: def.taskId, state, message, timestamp: Date.now(), ...extra };
  const fd = fs.openSync(def.statusFile, 'a');
  fs.writeSync(fd, JSON.stringify(record) + '\n');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

let finished = false;
report('TASK_STARTING', `Staging files... (executor pid: ${process.pid})`);
const sleeper = spawn('sleep', [String(sleepSeconds)], { stdio: 'ignore' });
report('TASK_RUNNING', `Task running process sleep - (pid: ${sleeper.pid})`);

if (behaviour === 'crash') {
  sleeper.kill('SIGKILL');
  process.exit(3);
}

sleeper.on('exit', (code) => {
  if (finished) return;
  finished = true;
  report(code === 0 ? 'TASK_FINISHED' : 'TASK_FAILED', `Process exited normally with code ${code}`, { exitCode: code });
  process.exit(0);
});

process.on('SIGTERM', () => {
  if (behaviour === 'ignore-term') {
    process.stdout.write('fake-executor: ignoring SIGTERM\n');
    return;
  }
  if (finished) return;
  finished = true;
  let kill = {};
  try {
    kill = JSON.parse(fs.readFileSync(def.killFile, 'utf8'));
  } catch {
    /* no kill file */
  }
  sleeper.kill('SIGKILL');
  report('TASK_KILLED', `Task killed after SIGTERM${kill.message ? `: ${kill.message}` : ''}`);
  process.exit(0);
});
