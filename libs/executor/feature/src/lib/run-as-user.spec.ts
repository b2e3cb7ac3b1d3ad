import type { ExecutorTaskDefinition } from '@singularity/models';
import { executorConfig } from './executor-config';
import { InvalidRunAsUserError, requestedRunAsUser, resolveRunAsUser, SYSTEM_USERS, validateRunAsUserName } from './run-as-user';

const definition = (user?: string) => ({ executorData: { cmd: 'x', user } }) as unknown as ExecutorTaskDefinition;

describe('run-as user', () => {
  it('is the deploy user, else defaultRunAsUser, else none', () => {
    expect(requestedRunAsUser(definition('svc'), executorConfig({ executor: { defaultRunAsUser: 'dflt' } }))).toBe('svc');
    expect(requestedRunAsUser(definition(), executorConfig({ executor: { defaultRunAsUser: 'dflt' } }))).toBe('dflt');
    expect(requestedRunAsUser(definition(), executorConfig())).toBeUndefined();
    expect(requestedRunAsUser(definition(''), executorConfig())).toBeUndefined();
  });

  it.each(['nobody', 'www-data', '_svc', 'a1_b-2', 'host$'])('accepts the name %j', (name) => expect(() => validateRunAsUserName(name)).not.toThrow());

  it.each(['Root', '1user', '-n', 'a b', 'a;b', '$(id)', 'a$b', 'x'.repeat(33), ''])('refuses the name %j', (name) =>
    expect(() => validateRunAsUserName(name)).toThrow(InvalidRunAsUserError),
  );

  it('asks the system (id -u) for users', () => {
    expect(SYSTEM_USERS.uidOf('root')).toBe(0);
    expect(SYSTEM_USERS.uidOf('no-such-user-here')).toBeUndefined();
    expect(SYSTEM_USERS.self().uid).toBe(process.getuid?.());
  });

  it('resolves against the real system: unknown users fail the task, the own user needs no switch', () => {
    const self = SYSTEM_USERS.self();
    expect(() => resolveRunAsUser(definition('no-such-user-here'), executorConfig())).toThrow('Run-as user no-such-user-here does not exist on this host');
    if (self.name) expect(resolveRunAsUser(definition(self.name), executorConfig())).toBeUndefined();
  });
});
