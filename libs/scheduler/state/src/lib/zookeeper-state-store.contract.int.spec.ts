import { describeWithZooKeeper } from '../testing/zookeeper-test-server';
import { describeStateStoreContract } from './state-store.contract';
import { ZooKeeperStateStore } from './zookeeper-state-store';

describeWithZooKeeper('ZooKeeperStateStore (real server)', (zk) => {
  // Default sizes: the contract's 1 MB string is written in chunks and its batch's record in staged parts.
  describeStateStoreContract('ZooKeeperStateStore', {
    durable: true,
    create: async () => {
      const root = zk.freshRoot('contract');
      const make = () => new ZooKeeperStateStore({ connect: zk.connect, root, sessionTimeoutMillis: 4000 });
      return { store: make(), reopen: async () => make(), cleanup: async () => undefined };
    },
  });

  // Tiny znodes: almost every value is chunked and almost every batch staged.
  describeStateStoreContract('ZooKeeperStateStore, 4 KiB znodes', {
    durable: true,
    create: async () => {
      const root = zk.freshRoot('contract-small');
      const make = () => new ZooKeeperStateStore({ connect: zk.connect, root, sessionTimeoutMillis: 4000, maxZnodeBytes: 4096 });
      return { store: make(), reopen: async () => make(), cleanup: async () => undefined };
    },
  });
});
