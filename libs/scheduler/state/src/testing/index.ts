/**
 * Test support of the state lib, for the `*.int.spec.ts` files of any lib that needs a real ZooKeeper:
 * import it as `@singularity/scheduler-state/testing` (it uses jest's globals; never from app code).
 */
export * from './zookeeper-test-server';
