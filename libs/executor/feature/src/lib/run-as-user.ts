import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';
import type { ExecutorTaskDefinition } from '@singularity/models';
import type { ExecutorConfig } from './executor-config';
import { TaskFailureError } from './executor-errors';

/**
 * User names runner.sh may switch to (spec slave §1.6 "all else quoted/validated"):
 * the portable shadow-utils pattern, with the trailing `$` of machine accounts.
 * The name is shell-quoted as well; the pattern is what keeps it a user name.
 */
export const RUN_AS_USER_PATTERN = /^[a-z_][a-z0-9_-]*[$]?$/;

/** Longest name `useradd` accepts on Linux. */
const MAX_USER_NAME_LENGTH = 32;

/** The deploy names a user the task cannot run as: the task fails (a retry elsewhere would fail alike). */
export class InvalidRunAsUserError extends TaskFailureError {}

/** What the executor asks the system about users; a port so the rules can be tested without real accounts. */
export interface UserDirectory {
  /** The executor's own user name and uid. */
  self(): { name?: string; uid: number };
  /** The uid of `name` (NSS included: files, LDAP, sssd), or undefined when there is no such user. */
  uidOf(name: string): number | undefined;
}

/** `id -u` asks NSS the way getpwnam(3) does, which Node has no binding for. */
export const SYSTEM_USERS: UserDirectory = {
  self() {
    const uid = process.getuid?.() ?? -1;
    try {
      return { name: userInfo().username, uid };
    } catch {
      return { uid }; // a uid without a passwd entry (containers)
    }
  },
  uidOf(name) {
    try {
      const out = execFileSync('id', ['-u', '--', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
      const uid = Number(out.trim());
      return Number.isInteger(uid) ? uid : undefined;
    } catch (err) {
      // `id` ran and said "no such user" (exit 1); anything else (no `id`, timeout) is not the deploy's fault.
      if (typeof (err as { status?: unknown }).status === 'number') return undefined;
      throw err;
    }
  },
};

/** The user a task asks for: `executorData.user`, else the executor's `defaultRunAsUser`, else none. */
export function requestedRunAsUser(definition: ExecutorTaskDefinition, config: ExecutorConfig): string | undefined {
  const user = definition.executorData.user ?? config.executor.defaultRunAsUser;
  return user === undefined || user === '' ? undefined : user;
}

/** Throws {@link InvalidRunAsUserError} unless `user` is a well-formed user name. */
export function validateRunAsUserName(user: string): void {
  if (user.length > MAX_USER_NAME_LENGTH || !RUN_AS_USER_PATTERN.test(user)) {
    throw new InvalidRunAsUserError(`Invalid run-as user ${JSON.stringify(user)}: not a valid user name`);
  }
}

/**
 * The user runner.sh switches to (spec slave §1.6), or undefined when the task
 * runs as the executor's own user (none asked for, or the same account under
 * the same name or uid). A name that is malformed or unknown on this host fails
 * the task before anything is staged.
 *
 * The switch is used whoever the executor runs as: an executor that is not
 * root switches too, which works where sudo allows it (a sudoers rule for the
 * executor's user) and otherwise fails the task in runner.sh.
 */
export function resolveRunAsUser(
  definition: ExecutorTaskDefinition,
  config: ExecutorConfig,
  users: UserDirectory = SYSTEM_USERS,
): string | undefined {
  const user = requestedRunAsUser(definition, config);
  if (user === undefined) return undefined;
  const self = users.self();
  if (self.name !== undefined && user === self.name) return undefined;
  validateRunAsUserName(user);
  const uid = users.uidOf(user);
  if (uid === undefined) throw new InvalidRunAsUserError(`Run-as user ${user} does not exist on this host`);
  return uid === self.uid ? undefined : user;
}
