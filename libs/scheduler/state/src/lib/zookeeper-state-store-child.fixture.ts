/**
 * A child process for the ZooKeeper store's crash test:
 *
 *   commit-loop CONNECT ROOT IN_FLIGHT MAX_ZNODE_BYTES
 *     Opens the store, continues the counter from what it finds, and commits
 *     forever with IN_FLIGHT commits outstanding. Commit n puts left/c<n> and
 *     right/c<n>, both {n, pad} (see `padFor`): with small znodes, many values
 *     are chunked and many batches' records staged. Prints "ack <n>" once the
 *     commit resolves. Meant to be SIGKILLed.
 */
import { ZooKeeperStateStore } from './zookeeper-state-store';

/** Pads of 0 to about 9 KB, so that with 2 KB znodes some values are chunked and most records staged. */
export function padFor(n: number): string {
  return 'p'.repeat((n * 997) % 9000);
}

async function main(): Promise<void> {
  const [mode, connect, root, inFlight, maxZnodeBytes] = process.argv.slice(2);
  if (mode !== 'commit-loop') throw new Error(`unknown mode ${mode}`);
  const store = new ZooKeeperStateStore({ connect, root, sessionTimeoutMillis: 4000, maxZnodeBytes: Number(maxZnodeBytes) });
  await store.open();
  let next = (await store.load()).get('left')?.size ?? 0;
  process.stdout.write(`ready next=${next}\n`);
  const worker = async () => {
    for (;;) {
      const n = next++;
      const value = { n, pad: padFor(n) };
      await store.commit([
        { op: 'put', collection: 'left', key: `c${n}`, value },
        { op: 'put', collection: 'right', key: `c${n}`, value },
      ]);
      process.stdout.write(`ack ${n}\n`);
    }
  };
  await Promise.all(Array.from({ length: Number(inFlight) }, worker));
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
