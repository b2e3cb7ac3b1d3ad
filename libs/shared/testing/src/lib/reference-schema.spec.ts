import { validateDeploy, validateRequest, validateRunNowRequest } from '@singularity/models';
import fc from 'fast-check';
import { aDeploy, aPendingTask, aPendingTaskId, aRequest, aRequestParent, aTask, aTaskId } from './factories';
import { expectMatchesSchema, referenceSchemaNames, schemaErrors } from './reference-schema';
import { referenceDir } from './repo-paths';

describe('reference schemas', () => {
  it('knows the reference schemas', () => {
    expect(referenceSchemaNames()).toEqual(expect.arrayContaining(['SingularityRequestParent', 'SingularityDeploy', 'SingularityTask']));
  });

  it('accepts a valid SingularityRequestParent', () => {
    expect(schemaErrors(aRequestParent(), 'SingularityRequestParent')).toEqual([]);
    expect(() => expectMatchesSchema(aRequestParent(), 'SingularityRequestParent')).not.toThrow();
  });

  it("rejects a SingularityRequestParent with state 'NOPE'", () => {
    const bad = { ...aRequestParent(), state: 'NOPE' };
    const errors = schemaErrors(bad, 'SingularityRequestParent');
    expect(errors).toEqual([expect.stringMatching(/^\/state must be equal to one of the allowed values: ACTIVE, .*DEPLOYING_TO_UNPAUSE \(got 'NOPE'\)$/)]);
    expect(() => expectMatchesSchema(bad, 'SingularityRequestParent')).toThrow(/does not match reference schema SingularityRequestParent:\n {2}- \/state must be equal/);
  });

  it('reports nested paths and missing required fields', () => {
    const errors = schemaErrors({ request: { requestType: 'SERVICE', instances: 1.5 } }, 'SingularityRequestParent');
    expect(errors).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\/request must have required property 'id'$/), expect.stringMatching(/^\/request\/instances must pass "int32" format|^\/request\/instances must be integer/)]),
    );
  });

  it('checks JSON as sent: undefined fields vanish, null optionals pass (spec §0)', () => {
    expect(schemaErrors({ ...aRequestParent(), activeDeploy: undefined, pendingDeploy: null }, 'SingularityRequestParent')).toEqual([]);
    expect(schemaErrors({ ...aRequest(), owners: null, scheduleType: null }, 'SingularityRequest')).toEqual([]);
    // Required fields stay required.
    expect(schemaErrors({ ...aRequest(), id: null }, 'SingularityRequest')).not.toEqual([]);
  });

  it('throws for an unknown schema name', () => {
    expect(() => schemaErrors({}, 'NoSuchThing')).toThrow(/unknown reference schema 'NoSuchThing'/);
  });

  describe('patched quirks', () => {
    it('uses a real pattern for request ids', () => {
      expect(schemaErrors(aRequest({ id: 'my-app_2' }), 'SingularityRequest')).toEqual([]);
      expect(schemaErrors(aRequest({ id: 'a/b' }), 'SingularityRequest')).toEqual([expect.stringMatching(/^\/id must match pattern/)]);
    });

    it('takes EmbeddedArtifact.content as a base64 string', () => {
      const artifact = { filename: 'f', content: 'aGk=' };
      expect(schemaErrors(artifact, 'EmbeddedArtifact')).toEqual([]);
      expect(schemaErrors({ ...artifact, content: ['aGk='] }, 'EmbeddedArtifact')).not.toEqual([]);
      expect(schemaErrors({ ...artifact, content: 'not base64!' }, 'EmbeddedArtifact')).not.toEqual([]);
    });

    it('knows SPREAD_ALL_AGENTS and the short logrotate frequencies', () => {
      expect(schemaErrors(aRequest({ agentPlacement: 'SPREAD_ALL_AGENTS', slavePlacement: 'SPREAD_ALL_AGENTS' }), 'SingularityRequest')).toEqual([]);
      expect(schemaErrors({ cmd: 'x', logrotateFrequency: 'EVERY_MINUTE' }, 'ExecutorData')).toEqual([]);
    });

    it('checks the agent twin of every slave field', () => {
      expect(schemaErrors(aRequest({ agentPlacement: 'NOPE' as never }), 'SingularityRequest')).toEqual([expect.stringMatching(/^\/agentPlacement must be equal to one of the allowed values/)]);
      expect(schemaErrors({ ...aRequest(), requiredAgentAttributes: { a: 1 } }, 'SingularityRequest')).not.toEqual([]);
    });

    it('accepts a result-file health check without a uri, but not an empty one', () => {
      expect(schemaErrors({ healthcheckResultFilePath: 'ok' }, 'HealthcheckOptions')).toEqual([]);
      expect(schemaErrors({ intervalSeconds: 5 }, 'HealthcheckOptions')).not.toEqual([]);
    });

    it('checks the spec fields the reference lacks', () => {
      expect(schemaErrors({ ...aDeploy(), canaryDeploySettings: { enableCanaryDeploy: 'yes' } }, 'SingularityDeploy')).not.toEqual([]);
      expect(schemaErrors({ ...aRequest(), maxScale: 0 }, 'SingularityRequest')).not.toEqual([]);
    });
  });

  describe('what our code emits matches the reference', () => {
    it('factories', () => {
      expectMatchesSchema(aRequest(), 'SingularityRequest');
      expectMatchesSchema(aRequest({ requestType: 'SCHEDULED' }), 'SingularityRequest');
      expectMatchesSchema(aDeploy(), 'SingularityDeploy');
      expectMatchesSchema(aTaskId(), 'SingularityTaskId');
      expectMatchesSchema(aPendingTaskId(), 'SingularityPendingTaskId');
      expectMatchesSchema(aPendingTask({ runId: 'r1', cmdLineArgsList: ['a'] }), 'SingularityPendingTask');
      expectMatchesSchema(aTask(), 'SingularityTask');
      expectMatchesSchema(aRequestParent({ activeDeploy: aDeploy(), taskIds: { healthy: [aTaskId()], notYetHealthy: [], pending: [aPendingTaskId()], cleaning: [], loadBalanced: [], killed: [] } }), 'SingularityRequestParent');
    });

    it('validated deploys with every kind of field', () => {
      const request = validateRequest({ id: 'app', requestType: 'ON_DEMAND', instances: 2 });
      const deploy = validateDeploy(
        {
          requestId: 'app',
          id: 'v1',
          containerInfo: {
            type: 'DOCKER',
            docker: { image: 'busybox', network: 'BRIDGE', portMappings: [{ containerPort: 80, hostPortType: 'FROM_OFFER', hostPort: 0 }] },
            volumes: [{ containerPath: '/data', hostPath: '/tmp', mode: 'RW' }],
          },
          command: 'run',
          executorData: {
            cmd: 'run',
            embeddedArtifacts: [{ filename: 'a', content: [1, 2, 3] }],
            externalArtifacts: [{ filename: 'b', url: 'http://x/b' }],
            s3Artifacts: [{ filename: 'c', s3Bucket: 'bk', s3ObjectKey: 'k' }],
            logrotateFrequency: 'EVERY_FIVE_MINUTES',
          },
          customExecutorCmd: '/exec',
          resources: { cpus: 0.5, memoryMb: 128, numPorts: 2 },
          env: { A: '1' },
          taskEnv: { 1: { B: '2' } },
          uris: ['http://x/y'],
          healthcheckUri: '/health',
          healthCheckProtocol: 'HTTPS',
          runImmediately: { runId: 'now', requiredSlaveAttributeOverrides: { rack: 'r1' }, resources: { cpus: 1 } },
          deployInstanceCountPerStep: 1,
          deployStepWaitTimeMs: 1000,
          loadBalancerOptions: { a: 1 },
        },
        request,
      );
      expectMatchesSchema(request, 'SingularityRequest');
      expectMatchesSchema(deploy, 'SingularityDeploy');
      expectMatchesSchema(validateRunNowRequest({ runId: 'x', envOverrides: { A: 'b' } }), 'SingularityRunNowRequest');
    });

    it('any validated request (property)', () => {
      const text = fc.string({ maxLength: 8 });
      const input = fc.record(
        {
          id: fc.stringMatching(/^[A-Za-z0-9_-]{1,100}$/),
          requestType: fc.constantFrom('SERVICE', 'WORKER'),
          instances: fc.integer({ min: 1, max: 25 }),
          owners: fc.array(text, { maxLength: 2 }),
          slavePlacement: fc.constantFrom('SEPARATE', 'GREEDY', 'SPREAD_ALL_AGENTS'),
          requiredSlaveAttributes: fc.dictionary(text, text, { maxKeys: 2 }),
          agentAttributeMinimums: fc.dictionary(text, fc.dictionary(text, fc.integer({ min: 0, max: 100 }), { maxKeys: 2 }), { maxKeys: 2 }),
          taskPriorityLevel: fc.double({ min: 0, max: 1, noNaN: true }),
          rackSensitive: fc.boolean(),
          emailConfigurationOverrides: fc.dictionary(text, fc.array(fc.constantFrom('OWNERS', 'ADMINS'), { maxLength: 2 }), { maxKeys: 2 }),
        },
        { requiredKeys: ['id'] },
      );
      fc.assert(
        fc.property(input, (raw) => {
          expect(schemaErrors(validateRequest(raw), 'SingularityRequest')).toEqual([]);
        }),
        { numRuns: 100 },
      );
    });
  });
});

describe('referenceDir', () => {
  const saved = process.env['SINGULARITY_REFERENCE_DIR'];
  afterEach(() => {
    if (saved === undefined) delete process.env['SINGULARITY_REFERENCE_DIR'];
    else process.env['SINGULARITY_REFERENCE_DIR'] = saved;
  });

  it('defaults to <repo>/../shared/reference', () => {
    delete process.env['SINGULARITY_REFERENCE_DIR'];
    expect(referenceDir()).toMatch(/[\\/]shared[\\/]reference$/);
  });

  it('honours SINGULARITY_REFERENCE_DIR', () => {
    process.env['SINGULARITY_REFERENCE_DIR'] = '/somewhere/else';
    expect(referenceDir()).toBe('/somewhere/else');
  });
});
