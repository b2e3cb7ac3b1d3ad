import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { eventually, tempDir, type TempDir } from '@singularity/testing';
import { FluentdStandIn } from '../testing/fluentd-stand-in';
import { FileTailer, splitLines } from './file-tailer';
import type { LogRecord, LogSink } from './fluentd-forward';
import { LogWatcher } from './log-watcher';
import { logWatcherConfig } from './log-watcher-config';
import { OffsetStore } from './offset-store';

/**
 * The log watcher with real files and directories, sending over TCP to a
 * stand-in for fluentd (FluentdStandIn: a forward-protocol server that
 * decodes what it gets and acknowledges it, since fluentd cannot run here).
 */
const logger = pino({ level: 'silent' });

describe('log watcher → fluentd forward (scenario 29, spec slave §5)', () => {
  let dir: TempDir;
  let fluentd: FluentdStandIn;
  const watchers: LogWatcher[] = [];
  let metadataDir: string;
  let storeDir: string;
  let serviceLog: string;

  beforeEach(async () => {
    dir = await tempDir('log-watcher-');
    metadataDir = join(dir.path, 'log-watcher-metadata');
    storeDir = join(dir.path, 'store');
    mkdirSync(metadataDir);
    mkdirSync(join(dir.path, 'task'));
    serviceLog = join(dir.path, 'task', 'service.log');
    fluentd = await new FluentdStandIn().start();
  });
  afterEach(async () => {
    for (const w of watchers.splice(0)) await w.stop();
    await fluentd.stop();
    await dir.cleanup();
  });

  function writeMetadata(finished = false, name = 'task1.tail.json'): void {
    writeFileSync(join(metadataDir, name), JSON.stringify({ filename: serviceLog, tag: 'myapp', extraFields: { requestId: 'req1', taskId: 'task1' }, finished }));
  }

  async function startWatcher(hosts = `127.0.0.1:${fluentd.port}`): Promise<LogWatcher> {
    const config = logWatcherConfig({
      base: { logWatcherMetadataDirectory: metadataDir },
      logWatcher: { fluentdHosts: hosts, storeDirectory: storeDir, pollMillis: 50, retryDelaySeconds: 0.2, httpPort: 0, fluentdTimeoutMillis: 2000 },
    });
    const watcher = new LogWatcher(config, { logger });
    watchers.push(watcher);
    await watcher.start();
    return watcher;
  }

  async function stop(watcher: LogWatcher): Promise<void> {
    watchers.splice(watchers.indexOf(watcher), 1);
    await watcher.stop();
  }

  const messagesAre = (expected: string[]) =>
    eventually(() => {
      expect(fluentd.messages()).toEqual(expected);
      return true;
    }, { timeoutMs: 10000, description: `fluentd has ${JSON.stringify(expected)}` });

  const storeFile = () => join(storeDir, `${createHash('sha256').update(serviceLog).digest('hex')}.store`);

  it('sends whole lines tagged forward.<tag> with the extraFields, holding back the partial last line', async () => {
    writeFileSync(serviceLog, 'one\ntwo\r\nthree\npart');
    writeMetadata();
    const before = Date.now();
    const watcher = await startWatcher();
    await messagesAre(['one', 'two', 'three']);
    expect(fluentd.events[0]).toMatchObject({ tag: 'forward.myapp', record: { requestId: 'req1', taskId: 'task1', message: 'one' } });
    expect(fluentd.events[0].time).toBeGreaterThanOrEqual(before - 1000);
    expect(readFileSync(storeFile(), 'utf8').trim()).toBe(String('one\ntwo\r\nthree\n'.length));
    const health = await (await fetch(`http://127.0.0.1:${watcher.port}/health`)).json();
    expect(health).toMatchObject({ ok: true, files: 1, linesSent: 3 });

    appendFileSync(serviceLog, 'ial\nfour\n');
    await messagesAre(['one', 'two', 'three', 'partial', 'four']);
  });

  it('resumes at the saved offset after a restart, without duplicates', async () => {
    writeFileSync(serviceLog, 'a\nb\n');
    writeMetadata();
    const first = await startWatcher();
    await messagesAre(['a', 'b']);
    await stop(first);
    appendFileSync(serviceLog, 'c\nd\n');
    await startWatcher();
    await messagesAre(['a', 'b', 'c', 'd']);
  });

  it('starts again at 0 when the file became shorter than the offset (copytruncate)', async () => {
    writeFileSync(serviceLog, 'a long first line\nanother long line\n');
    writeMetadata();
    await startWatcher();
    await messagesAre(['a long first line', 'another long line']);
    writeFileSync(serviceLog, 'x\n');
    await messagesAre(['a long first line', 'another long line', 'x']);
  });

  it('once finished: drains, sends the partial last line, removes the metadata and the offset', async () => {
    writeFileSync(serviceLog, 'a\nlast without newline');
    writeMetadata();
    await startWatcher();
    await messagesAre(['a']);
    expect(existsSync(storeFile())).toBe(true);
    writeMetadata(true);
    await messagesAre(['a', 'last without newline']);
    await eventually(() => readdirSync(metadataDir).length === 0 && !existsSync(storeFile()), { timeoutMs: 10000, description: 'metadata and offset removed' });
  });

  it('loads every metadata at start, one tailer per file however many name it', async () => {
    writeFileSync(serviceLog, 'once\n');
    writeMetadata(false, 'a.tail.json');
    writeMetadata(false, 'b.tail.json');
    writeFileSync(join(metadataDir, 'broken.tail.json'), '{not json');
    writeFileSync(join(metadataDir, 'other.json'), '{}');
    const watcher = await startWatcher();
    expect(watcher.files).toBe(1);
    await messagesAre(['once']);
  });

  it('with fluentd down, tries again after retryDelaySeconds from the saved offset, and loses nothing', async () => {
    writeFileSync(serviceLog, 'before\n');
    writeMetadata();
    const watcher = await startWatcher();
    await messagesAre(['before']);
    await fluentd.stop();
    appendFileSync(serviceLog, 'during 1\nduring 2\n');
    await eventually(() => watcher.counters.sendFailures >= 2, { timeoutMs: 10000, description: 'two failed attempts' });
    await fluentd.start(); // same port
    appendFileSync(serviceLog, 'after\n');
    await messagesAre(['before', 'during 1', 'during 2', 'after']);
  });

  it('tries the other hosts when one is down', async () => {
    writeFileSync(serviceLog, 'x\ny\n');
    writeMetadata();
    // Port 1 refuses connections.
    await startWatcher(`127.0.0.1:1,127.0.0.1:${fluentd.port}`);
    await messagesAre(['x', 'y']);
  });
});

describe('FileTailer details', () => {
  class RecordingSink implements LogSink {
    batches: Array<{ tag: string; records: LogRecord[] }> = [];
    async send(tag: string, records: LogRecord[]) {
      this.batches.push({ tag, records });
    }
    async close(): Promise<void> {
      // nothing to release
    }
  }
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('file-tailer-');
  });
  afterEach(() => dir.cleanup());

  it('splits a line longer than byteBufferCapacity instead of stalling on it', async () => {
    const file = join(dir.path, 'f.log');
    writeFileSync(file, `${'x'.repeat(20)}\nshort\n`);
    const sink = new RecordingSink();
    const store = new OffsetStore(join(dir.path, 'store'), '.store');
    await store.init();
    const tailer = new FileTailer(
      { filename: file, tag: 't', extraFields: {}, finished: false },
      { sink, store, settings: { fluentdTagPrefix: 'p', byteBufferCapacity: 8, retryDelaySeconds: 1 }, logger, counters: { linesSent: 0, sendFailures: 0 } },
    );
    expect(await tailer.pump()).toBe('open');
    expect(sink.batches.flatMap((b) => b.records.map((r) => r['message']))).toEqual(['xxxxxxxx', 'xxxxxxxx', 'xxxx', 'short']);
    expect(sink.batches[0].tag).toBe('p.t');
    expect(await store.load(file)).toBe(27);
  });

  it('splitLines drops the final newline and carriage returns', () => {
    expect(splitLines(Buffer.from('a\r\nb\n\nc'))).toEqual(['a', 'b', '', 'c']);
  });
});
