/**
 * One ZooKeeper session for leader election and the host registry: a thin
 * layer over the state lib's `ZooKeeperConnection`, which holds the
 * workarounds for the `zookeeper` binding (7.x) — raised response limit, and
 * the watchdog that replaces a handle stuck after a refused connection with a
 * new one on the same session (see `@singularity/scheduler-state`'s README).
 *
 * Kept apart from the state store's session on purpose: the election must
 * notice the loss of its own session (its ephemeral znodes are gone, another
 * instance may lead) whatever the store is doing.
 *
 * Watches are one-shot and live in the native handle: after `onHandleReplaced`
 * they are gone (ephemeral znodes are not: same session), so the user sets
 * them again once `connected`.
 */
import { ZooKeeperConnection, ZooKeeperError, ZK, type ConnectionState, type CreateMode } from '@singularity/scheduler-state';

export type SessionState = ConnectionState;

export interface ZooKeeperSessionOptions {
  /** `host:port,host:port`. */
  connect: string;
  sessionTimeoutMillis: number;
  onStateChange(state: SessionState): void;
  /** The watchdog replaced a stuck native handle (same session): the watches set so far are gone. */
  onHandleReplaced?(info: { session: string | undefined; stuckMillis: number; nativeState: number; replacements: number }): void;
}

export class ZooKeeperSession {
  private readonly connection: ZooKeeperConnection;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly options: ZooKeeperSessionOptions) {
    this.connection = new ZooKeeperConnection({
      connect: options.connect,
      sessionTimeoutMillis: options.sessionTimeoutMillis,
      onStateChange: (state) => {
        for (const check of [...this.waiters]) check();
        options.onStateChange(state);
      },
      onHandleReplaced: (info) => options.onHandleReplaced?.(info),
    });
  }

  get state(): SessionState {
    return this.connection.state;
  }

  /** The session id (hex) once connected, for logs. */
  get id(): string | undefined {
    const id = this.connection.session?.id;
    return id && id !== '0' ? id : undefined;
  }

  /** Id and password (hex) while the session lives: tests use them to expire it from outside. */
  get credentials(): { id: string; password: string } | undefined {
    const session = this.connection.session;
    return session && this.id ? session : undefined;
  }

  /** The timeout the server granted (the requested one until connected). */
  get negotiatedTimeoutMillis(): number {
    return this.connection.negotiatedTimeoutMillis;
  }

  /** Resolves once connected; rejects after `timeoutMillis` or when the session ends first. */
  waitConnected(timeoutMillis: number): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.state === 'connected') done();
        else if (this.state === 'expired' || this.state === 'closed') done(new Error(`ZooKeeper session ${this.state} before it connected`));
      };
      const timer = setTimeout(() => done(new Error(`could not connect to ZooKeeper at ${this.options.connect} within ${timeoutMillis} ms`)), timeoutMillis);
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      this.waiters.add(check);
    });
  }

  /** Ends the session: the server deletes its ephemeral znodes at once. */
  close(): void {
    if (this.state === 'closed') return;
    this.connection.close();
    for (const check of [...this.waiters]) check();
  }

  /** Creates a znode; returns its path (with the sequence number for sequential modes). */
  create(path: string, data: Buffer, mode: CreateMode): Promise<string> {
    return this.connection.create(path, data, mode);
  }

  /** Creates every missing persistent znode down to `path`. */
  async ensurePath(path: string): Promise<void> {
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) await this.connection.ensure(`/${parts.slice(0, i).join('/')}`);
  }

  /** The znode's data, or undefined when it does not exist. */
  async get(path: string): Promise<Buffer | undefined> {
    try {
      return (await this.connection.get(path)).data;
    } catch (err) {
      if (err instanceof ZooKeeperError && err.code === ZK.NONODE) return undefined;
      throw err;
    }
  }

  /** Whether the znode exists; `onChange` (once) when it is created, changed or deleted. */
  async exists(path: string, onChange: () => void): Promise<boolean> {
    return (await this.connection.exists(path, onChange)) !== undefined;
  }

  /** The znode's children; `onChange` (once) when they change, if given. */
  children(path: string, onChange?: () => void): Promise<string[]> {
    return this.connection.children(path, onChange);
  }
}
