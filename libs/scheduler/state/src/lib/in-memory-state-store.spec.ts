import { InMemoryStateStore } from './in-memory-state-store';
import { describeStateStoreContract } from './state-store.contract';

describeStateStoreContract('InMemoryStateStore', {
  durable: false,
  create: async () => {
    const store = new InMemoryStateStore();
    // The data lives in the object: "reopening" is opening the same one again.
    return { store, reopen: async () => store, cleanup: async () => undefined };
  },
});
