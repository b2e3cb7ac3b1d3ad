/**
 * A thin promise layer over the `zookeeper` npm package (7.x, a binding of
 * ZooKeeper's C client), for `ZooKeeperStateStore` and the scheduler's leader
 * election (`@singularity/scheduler-feature`'s `ha/`). It exists because:
 *
 * - the package's own promise methods put every argument, the data included,
 *   into their error messages (a 1 MB value becomes a 1 MB message), and do
 *   not expose the result code; here every failure is a `ZooKeeperError`
 *   with the C client's `code`;
 * - its JS wrapper formats every call's arguments for a debug log even with
 *   logging off, so the calls go to the binding (`native`) directly;
 * - the binding closes a healthy session, reporting it as expired, after 10
 *   reads in a row that did not complete a packet (`response_counter_limit`),
 *   which any response of about 1 MB triggers. The limit is raised here.
 *
 * The package binds no `multi` (transaction) call: see the store for how
 * commits stay atomic without it.
 */

/** The C client's result codes that the store tells apart (zookeeper.h). */
export const ZK = {
  OK: 0,
  CONNECTIONLOSS: -4,
  MARSHALLINGERROR: -5,
  OPERATIONTIMEOUT: -7,
  BADARGUMENTS: -8,
  INVALIDSTATE: -9,
  NONODE: -101,
  NOAUTH: -102,
  BADVERSION: -103,
  NODEEXISTS: -110,
  NOTEMPTY: -111,
  SESSIONEXPIRED: -112,
  AUTHFAILED: -115,
  CLOSING: -116,
  SESSIONMOVED: -118,
} as const;

const CODE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(ZK).map(([name, code]) => [code, `Z${name}`]));

export class ZooKeeperError extends Error {
  constructor(
    readonly code: number,
    readonly operation: string,
    readonly path: string,
    detail?: string,
  ) {
    super(`ZooKeeper ${operation} ${path} failed: ${CODE_NAMES[code] ?? `code ${code}`}${detail ? ` (${detail})` : ''}`);
    this.name = 'ZooKeeperError';
  }

  /** The request may or may not have been applied; the connection is (or was) down. */
  get isConnectionLoss(): boolean {
    return this.code === ZK.CONNECTIONLOSS || this.code === ZK.OPERATIONTIMEOUT || this.code === ZK.SESSIONMOVED;
  }

  /** The session is gone for good: this handle will never work again. */
  get isSessionEnd(): boolean {
    return this.code === ZK.SESSIONEXPIRED || this.code === ZK.CLOSING || this.code === ZK.INVALIDSTATE || this.code === ZK.AUTHFAILED;
  }
}

export interface ZnodeStat {
  readonly version: number;
  readonly numChildren: number;
  readonly dataLength: number;
}

/** znode creation modes (ZOO_PERSISTENT, ZOO_EPHEMERAL, ZOO_EPHEMERAL_SEQUENTIAL). */
const CREATE_FLAGS = { persistent: 0, ephemeral: 1, 'ephemeral-sequential': 3 } as const;
export type CreateMode = keyof typeof CREATE_FLAGS;

/** A watch event's type (ZOO_CREATED_EVENT …); ZOO_SESSION_EVENT (-1) reaches every watcher and is not a znode change. */
const SESSION_EVENT = -1;

type Watcher = (type: number, state: number, path: string) => void;

/** The callback API of the binding object (`zookeeper`'s `native`), as used here. */
interface NativeHandle {
  a_create(path: string, data: Buffer, flags: number, cb: (rc: number, error: string, path: string) => void): number | undefined;
  a_set(path: string, data: Buffer, version: number, cb: (rc: number, error: string, stat: ZnodeStat | null) => void): number | undefined;
  a_delete_(path: string, version: number, cb: (rc: number, error: string) => void): number | undefined;
  a_exists(path: string, watch: boolean, cb: (rc: number, error: string, stat: ZnodeStat | null) => void): number | undefined;
  aw_exists(path: string, watcher: Watcher, cb: (rc: number, error: string, stat: ZnodeStat | null) => void): number | undefined;
  a_get(path: string, watch: boolean, cb: (rc: number, error: string, stat: ZnodeStat | null, data: Buffer | null) => void): number | undefined;
  aw_get(path: string, watcher: Watcher, cb: (rc: number, error: string, stat: ZnodeStat | null, data: Buffer | null) => void): number | undefined;
  a_get_children(path: string, watch: boolean, cb: (rc: number, error: string, children: string[] | null) => void): number | undefined;
  aw_get_children(path: string, watcher: Watcher, cb: (rc: number, error: string, children: string[] | null) => void): number | undefined;
  a_sync(path: string, cb: (rc: number, error: string, path: string) => void): number | undefined;
}

/** The package's client class (events: `connect`, `connecting`, `close` with a code). */
interface ClientHandle {
  readonly native: NativeHandle;
  readonly client_id: string;
  readonly client_password: string;
  readonly timeout: number;
  /** `zoo_state()`: 3 connected, 1 connecting, 2 associating, -112 expired, … */
  readonly state: number;
  init(config: object): unknown;
  close(): unknown;
  on(event: 'connect' | 'connecting', listener: () => void): unknown;
  on(event: 'close', listener: (client: unknown, code: number) => void): unknown;
}

type ClientConstructor = new (config: object) => ClientHandle;

let clientClass: ClientConstructor | undefined;

/**
 * Loads the binding on first use, so that the lib (imported by every scheduler) loads without a built
 * native addon when the ZooKeeper store is not used.
 */
function loadClientClass(): ClientConstructor {
  clientClass ??= require('zookeeper') as ClientConstructor;
  return clientClass;
}

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'expired' | 'closed';

export interface ZooKeeperConnectionOptions {
  connect: string;
  sessionTimeoutMillis: number;
  /** Re-attach to an existing session (tests use it to force another session's expiry). */
  session?: { id: string; password: string };
  onStateChange(state: ConnectionState, code?: number): void;
  /** Called when a stuck handle is replaced (see the class comment), for the log. */
  onHandleReplaced?(info: { session: string | undefined; stuckMillis: number; nativeState: number; replacements: number }): void;
}

/** `zoo_state()` of a handle whose session is established. */
const NATIVE_CONNECTED = 3;
const WATCHDOG_INTERVAL_MS = 250;

/**
 * One ZooKeeper session. The C client reconnects by itself within the session
 * (`disconnected` → `connected`); a session that expires (or fails to
 * authenticate) ends it for good (`expired`).
 *
 * A watchdog works around the binding (7.3.0): after a connection attempt the
 * server refuses mid-handshake (it does while it starts up), the binding can
 * stop polling the client's socket. The C client then never completes another
 * connection (every attempt times out), and the session event announcing the
 * loss is never delivered. So the watchdog reads the C client's state itself:
 * it reports `disconnected` when the C client is not connected, and when that
 * has lasted `sessionTimeout / 3` (at least 1 s) it replaces the handle with a
 * new one attached to the same session (id and password), before the server
 * could expire it. A handle that is not connected sends nothing when closed,
 * so the session survives the swap; requests cut off by it fail with
 * ZCONNECTIONLOSS, like any lost connection. When the server is simply down,
 * the swaps are harmless: each new handle keeps trying, as the old one would.
 *
 * Watches (the `onChange` of `exists`, `get`, `children`) are one-shot and
 * live in the handle: the C client sets them again after a reconnection, but
 * a replaced handle takes them with it (they never fire). Ephemeral znodes
 * survive the swap (same session). A user that relies on watches must set them
 * again after `onHandleReplaced`, e.g. on the next `connected`.
 */
export class ZooKeeperConnection {
  private client!: ClientHandle;
  private native!: NativeHandle;
  /** Bumped for each handle; events and completions of an older handle are ignored or translated. */
  private generation = 0;
  private stateNow: ConnectionState = 'connecting';
  private credentials: { id: string; password: string } | undefined;
  private notConnectedSince = Date.now();
  private readonly stuckAfterMillis: number;
  private readonly watchdog: NodeJS.Timeout;
  private replacementCount = 0;

  constructor(private readonly options: ZooKeeperConnectionOptions) {
    this.credentials = options.session;
    this.stuckAfterMillis = Math.max(1000, options.sessionTimeoutMillis / 3);
    this.attach();
    this.watchdog = setInterval(() => this.checkNativeState(), WATCHDOG_INTERVAL_MS);
    this.watchdog.unref();
  }

  private attach(): void {
    const Client = loadClientClass();
    const generation = ++this.generation;
    const client = new Client({
      connect: this.options.connect,
      timeout: this.options.sessionTimeoutMillis,
      debug_level: 0, // the C client's own log lines go to stderr; the store logs what matters
      host_order_deterministic: false,
      response_counter_limit: 1_000_000_000,
      ...(this.credentials ? { client_id: this.credentials.id, client_password: this.credentials.password } : {}),
    });
    client.on('connect', () => {
      if (generation !== this.generation) return;
      this.credentials = { id: client.client_id, password: client.client_password };
      this.notConnectedSince = 0;
      this.setState('connected');
    });
    client.on('connecting', () => {
      if (generation === this.generation && this.stateNow === 'connected') this.setState('disconnected');
    });
    client.on('close', (_client, code) => {
      if (generation === this.generation && this.stateNow !== 'closed') this.setState(code === 0 ? 'closed' : 'expired', code);
    });
    this.client = client;
    this.native = client.native;
    client.init({});
  }

  private checkNativeState(): void {
    if (this.stateNow === 'closed' || this.stateNow === 'expired') return;
    const nativeState = this.client.state;
    if (nativeState === NATIVE_CONNECTED) return;
    const now = Date.now();
    if (!this.notConnectedSince) this.notConnectedSince = now;
    // The session event may never come (see above): report the loss from the C client's own state.
    if (this.stateNow === 'connected') this.setState('disconnected');
    const stuckMillis = now - this.notConnectedSince;
    if (stuckMillis < this.stuckAfterMillis) return;
    const old = this.client;
    this.attach();
    this.notConnectedSince = now;
    // Not connected, so closing sends no close-session request: the session lives on in the new handle.
    old.close();
    this.replacementCount++;
    this.options.onHandleReplaced?.({ session: this.credentials?.id, stuckMillis, nativeState, replacements: this.replacementCount });
  }

  get state(): ConnectionState {
    return this.stateNow;
  }

  /** How many times the watchdog replaced a stuck handle. */
  get replacements(): number {
    return this.replacementCount;
  }

  /** The session's id and password (hex), once connected. */
  get session(): { id: string; password: string } | undefined {
    if (this.stateNow === 'closed' || this.stateNow === 'expired') return undefined;
    return this.credentials;
  }

  /** The session timeout the server granted (the requested one until connected). */
  get negotiatedTimeoutMillis(): number {
    return this.client.timeout;
  }

  close(): void {
    clearInterval(this.watchdog);
    if (this.stateNow === 'closed') return;
    this.stateNow = 'closed';
    this.client.close();
  }

  /** Creates a znode; returns its path (with the sequence number for a sequential mode). */
  create(path: string, data: Buffer, mode: CreateMode = 'persistent'): Promise<string> {
    return this.call('create', path, (cb) => this.native.a_create(path, data, CREATE_FLAGS[mode], (rc, _e, created) => cb(rc, created)));
  }

  /** `version` -1 sets whatever the version; returns the new stat. */
  set(path: string, data: Buffer, version = -1): Promise<ZnodeStat> {
    return this.call('set', path, (cb) => this.native.a_set(path, data, version, (rc, _e, stat) => cb(rc, stat as ZnodeStat)));
  }

  delete(path: string, version = -1): Promise<void> {
    return this.call('delete', path, (cb) => this.native.a_delete_(path, version, (rc) => cb(rc)));
  }

  /**
   * The stat, or undefined when the znode does not exist. `onChange` (once, if given) when it is
   * created, changed or deleted (see the class comment on watches).
   */
  async exists(path: string, onChange?: () => void): Promise<ZnodeStat | undefined> {
    try {
      return await this.call<ZnodeStat>('exists', path, (cb) =>
        onChange
          ? this.native.aw_exists(path, this.watcher(onChange), (rc, _e, stat) => cb(rc, stat as ZnodeStat))
          : this.native.a_exists(path, false, (rc, _e, stat) => cb(rc, stat as ZnodeStat)),
      );
    } catch (err) {
      if (err instanceof ZooKeeperError && err.code === ZK.NONODE) return undefined;
      throw err;
    }
  }

  /** The znode's stat and data; `onChange` (once, if given) when it changes or is deleted. */
  get(path: string, onChange?: () => void): Promise<{ stat: ZnodeStat; data: Buffer }> {
    const done = (cb: (rc: number, result?: { stat: ZnodeStat; data: Buffer }) => void) => (rc: number, _e: string, stat: ZnodeStat | null, data: Buffer | null) =>
      cb(rc, { stat: stat as ZnodeStat, data: data ?? Buffer.alloc(0) });
    return this.call('get', path, (cb) => (onChange ? this.native.aw_get(path, this.watcher(onChange), done(cb)) : this.native.a_get(path, false, done(cb))));
  }

  /** The znode's children; `onChange` (once, if given) when they change or the znode is deleted. */
  children(path: string, onChange?: () => void): Promise<string[]> {
    return this.call('getChildren', path, (cb) =>
      onChange
        ? this.native.aw_get_children(path, this.watcher(onChange), (rc, _e, children) => cb(rc, children ?? []))
        : this.native.a_get_children(path, false, (rc, _e, children) => cb(rc, children ?? [])),
    );
  }

  /**
   * Makes the server this client talks to catch up with the leader for `path` (ZooKeeper's `sync`), so
   * that the reads after it see every write acknowledged before it, even on a lagging follower.
   */
  sync(path: string): Promise<void> {
    return this.call('sync', path, (cb) => this.native.a_sync(path, (rc) => cb(rc)));
  }

  /** Creates the znode with empty data unless it exists. */
  async ensure(path: string): Promise<void> {
    try {
      await this.create(path, Buffer.alloc(0));
    } catch (err) {
      if (!(err instanceof ZooKeeperError && err.code === ZK.NODEEXISTS)) throw err;
    }
  }

  /** A one-shot watcher for `onChange`: session events are not znode changes; an old handle's events are dropped. */
  private watcher(onChange: () => void): Watcher {
    const generation = this.generation;
    let fired = false;
    return (type) => {
      if (type === SESSION_EVENT || fired || generation !== this.generation || this.stateNow === 'closed') return;
      fired = true;
      onChange();
    };
  }

  private call<T = void>(operation: string, path: string, start: (cb: (rc: number, result?: T) => void) => number | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.stateNow === 'closed' || this.stateNow === 'expired') {
        // The binding must not be used after its `close` (it may crash the process).
        reject(new ZooKeeperError(this.stateNow === 'closed' ? ZK.CLOSING : ZK.SESSIONEXPIRED, operation, path));
        return;
      }
      let rc: number | undefined;
      const generation = this.generation;
      const fail = (code: number) => {
        // A request cut off by replacing a stuck handle was lost with the connection, not with the session.
        const lost = code === ZK.CLOSING && generation !== this.generation && this.stateNow !== 'closed';
        reject(new ZooKeeperError(lost ? ZK.CONNECTIONLOSS : code, operation, path));
      };
      try {
        rc = start((code, result) => (code === ZK.OK ? resolve(result as T) : fail(code)));
      } catch (err) {
        reject(new ZooKeeperError(ZK.BADARGUMENTS, operation, path, (err as Error).message));
        return;
      }
      // A request refused before it was queued (a bad path, a closed handle): the callback never runs.
      if (typeof rc === 'number' && rc !== ZK.OK) fail(rc);
    });
  }

  private setState(state: ConnectionState, code?: number): void {
    if (this.stateNow === state) return;
    this.stateNow = state;
    if (state === 'expired') clearInterval(this.watchdog);
    this.options.onStateChange(state, code);
  }
}
