import { tempDir } from '@singularity/testing';
import { EmbeddedStateStore } from './embedded-state-store';
import { describeStateStoreContract } from './state-store.contract';

describeStateStoreContract('EmbeddedStateStore', {
  durable: true,
  create: async () => {
    const dir = await tempDir('state-contract-');
    return {
      store: new EmbeddedStateStore({ directory: dir.path }),
      reopen: async () => new EmbeddedStateStore({ directory: dir.path }),
      cleanup: () => dir.cleanup(),
    };
  },
});

describeStateStoreContract('EmbeddedStateStore, compacting after every few commits', {
  durable: true,
  create: async () => {
    const dir = await tempDir('state-contract-compacting-');
    const make = () => new EmbeddedStateStore({ directory: dir.path, compactAfterBytes: 2048 });
    return { store: make(), reopen: async () => make(), cleanup: () => dir.cleanup() };
  },
});
