import { InvalidRequestError } from '@singularity/util';
import fc from 'fast-check';
import type { SingularityRequest } from '../request';
import { validateDeploy, validateDeployRequest } from './deploy.validator';
import { DEFAULT_VALIDATION_LIMITS } from './validation-limits';

function expectInvalid(fn: () => unknown, field: string, message?: string | RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(InvalidRequestError);
  const err = caught as InvalidRequestError;
  expect(err.field).toBe(field);
  expect(err.message.startsWith(`${field}: `)).toBe(true);
  if (typeof message === 'string') expect(err.message).toBe(message);
  else if (message) expect(err.message).toMatch(message);
}

const worker: SingularityRequest = { id: 'app', requestType: 'WORKER' };
const service: SingularityRequest = { id: 'app', requestType: 'SERVICE', instances: 2 };
const lbService: SingularityRequest = { id: 'app', requestType: 'SERVICE', loadBalanced: true };
const onDemand: SingularityRequest = { id: 'app', requestType: 'ON_DEMAND' };

/** A minimal valid command deploy for `app`, plus `fields`. */
const deploy = (fields: Record<string, unknown> = {}) => ({ requestId: 'app', id: 'd1', command: 'run.sh', ...fields });

describe('validateDeploy', () => {
  it('accepts a command deploy and fills the defaults', () => {
    expect(validateDeploy(deploy({ unknownField: true }), worker)).toEqual({
      requestId: 'app',
      id: 'd1',
      command: 'run.sh',
      resources: { cpus: 1, memoryMb: 64, numPorts: 0, diskMb: 0 },
      canaryDeploySettings: {
        enableCanaryDeploy: false,
        instanceGroupSize: 1,
        acceptanceMode: 'NONE',
        waitMillisBetweenGroups: 0,
        allowedTasksFailuresPerGroup: 0,
        canaryCycleCount: 3,
      },
    });
  });

  describe('ids', () => {
    it.each<[Record<string, unknown>, string, string | RegExp]>([
      [{ requestId: undefined }, 'requestId', 'requestId: required'],
      [{ requestId: 'other' }, 'requestId', "requestId: must equal the request's id 'app' (got 'other')"],
      [{ id: undefined }, 'id', 'id: required'],
      [{ id: 'd-1' }, 'id', "id: may contain only letters, digits, '_' and '.' (got 'd-1')"],
      [{ id: 'd/1' }, 'id', /^id: may contain only/],
      [{ id: 'a'.repeat(51) }, 'id', 'id: must be at most 50 characters (got 51)'],
      [{ id: 12 }, 'id', 'id: must be a string (got 12)'],
    ])('%j → 400', (fields, field, message) => {
      expectInvalid(() => validateDeploy(deploy(fields), worker), field, message);
    });

    it('accepts dots and underscores up to maxDeployIdSize', () => {
      expect(validateDeploy(deploy({ id: 'v1.2_3' }), worker).id).toBe('v1.2_3');
      expect(validateDeploy(deploy({ id: 'a'.repeat(50) }), worker).id).toHaveLength(50);
    });

    it('generates an id only when createDeployIds is on', () => {
      const limits = { ...DEFAULT_VALIDATION_LIMITS, createDeployIds: true };
      expect(validateDeploy(deploy({ id: undefined }), worker, limits, { generateDeployId: () => 'gen1' }).id).toBe('gen1');
      expect(validateDeploy(deploy({ id: undefined }), worker, limits).id).toMatch(/^[A-Za-z0-9]{1,50}$/);
    });
  });

  describe('execution mode', () => {
    const executorData = { cmd: 'java -jar app.jar' };
    const containerInfo = { type: 'DOCKER', docker: { image: 'busybox:1' } };
    it.each<[string, Record<string, unknown>, string | null]>([
      ['command', { command: 'x' }, null],
      ['command with arguments and shell', { command: 'x', arguments: ['a', 'b'], shell: true }, null],
      ['executorData with customExecutorCmd', { executorData, customExecutorCmd: '/usr/bin/executor' }, null],
      ['containerInfo alone', { containerInfo }, null],
      ['containerInfo with a command', { containerInfo, command: 'x' }, null],
      ['nothing', {}, 'command'],
      ['command with executorData', { command: 'x', executorData, customExecutorCmd: 'e' }, 'executorData'],
      ['executorData without customExecutorCmd', { executorData }, 'customExecutorCmd'],
      ['containerInfo without type', { containerInfo: { docker: { image: 'i' } } }, 'containerInfo.type'],
      ['DOCKER container without docker', { containerInfo: { type: 'DOCKER' } }, 'containerInfo.docker'],
      ['DOCKER container without image', { containerInfo: { type: 'DOCKER', docker: {} } }, 'containerInfo.docker.image'],
      ['unknown container type', { containerInfo: { type: 'LXC', docker: { image: 'i' } } }, 'containerInfo.type'],
    ])('%s', (_name, fields, errorField) => {
      const input = { requestId: 'app', id: 'd1', ...fields };
      if (errorField === null) expect(validateDeploy(input, worker).id).toBe('d1');
      else expectInvalid(() => validateDeploy(input, worker), errorField);
    });

    it('defaults docker.privileged to false (it is always on the wire)', () => {
      const result = validateDeploy({ requestId: 'app', id: 'd1', containerInfo }, worker);
      expect(result.containerInfo).toEqual({ type: 'DOCKER', docker: { image: 'busybox:1', privileged: false } });
    });

    it('checks FROM_OFFER port mappings against numPorts', () => {
      const mapping = { containerPort: 8080, hostPortType: 'FROM_OFFER', hostPort: 1 };
      const input = (numPorts: number) => ({
        requestId: 'app',
        id: 'd1',
        resources: { numPorts },
        containerInfo: { type: 'DOCKER', docker: { image: 'i', portMappings: [mapping] } },
      });
      expectInvalid(() => validateDeploy(input(1), worker), 'containerInfo.docker.portMappings[0].hostPort');
      expect(validateDeploy(input(2), worker).containerInfo?.docker).toMatchObject({
        portMappings: [{ containerPortType: 'LITERAL', containerPort: 8080, hostPortType: 'FROM_OFFER', hostPort: 1, protocol: 'tcp' }],
      });
    });
  });

  describe('resources', () => {
    it('fills missing parts with the defaults', () => {
      expect(validateDeploy(deploy({ resources: { cpus: 2 } }), worker).resources).toEqual({ cpus: 2, memoryMb: 64, numPorts: 0, diskMb: 0 });
      const limits = { ...DEFAULT_VALIDATION_LIMITS, defaultCpus: 0.5, defaultMemory: 128, defaultDisk: 10 };
      expect(validateDeploy(deploy(), worker, limits).resources).toEqual({ cpus: 0.5, memoryMb: 128, numPorts: 0, diskMb: 10 });
    });

    it.each<[Record<string, unknown>, string, string]>([
      [{ cpus: 0 }, 'resources.cpus', 'resources.cpus: must be greater than 0 (got 0)'],
      [{ memoryMb: -1 }, 'resources.memoryMb', 'resources.memoryMb: must be greater than 0 (got -1)'],
      [{ cpus: 51 }, 'resources.cpus', 'resources.cpus: must be at most 50 (got 51)'],
      [{ memoryMb: 24001 }, 'resources.memoryMb', 'resources.memoryMb: must be at most 24000 (got 24001)'],
      [{ diskMb: 60001 }, 'resources.diskMb', 'resources.diskMb: must be at most 60000 (got 60001)'],
      [{ diskMb: -1 }, 'resources.diskMb', 'resources.diskMb: must be at least 0 (got -1)'],
      [{ numPorts: 1.5 }, 'resources.numPorts', 'resources.numPorts: must be an integer (got 1.5)'],
      [{ cpus: '1' }, 'resources.cpus', "resources.cpus: must be a number (got '1')"],
    ])('%j → 400', (resources, field, message) => {
      expectInvalid(() => validateDeploy(deploy({ resources }), worker), field, message);
    });

    it('bounds the request total (instances × per instance)', () => {
      const big: SingularityRequest = { id: 'app', requestType: 'WORKER', instances: 20 };
      expectInvalid(
        () => validateDeploy(deploy({ resources: { cpus: 46 } }), big),
        'resources.cpus',
        'resources.cpus: 20 instances × 46 = 920 exceeds maxNumCpusPerRequest 900',
      );
      expectInvalid(() => validateDeploy(deploy({ resources: { memoryMb: 23000 } }), big), 'resources.memoryMb');
      expect(validateDeploy(deploy({ resources: { cpus: 45 } }), big).resources.cpus).toBe(45);
    });
  });

  describe('env', () => {
    it.each<[Record<string, unknown>, string]>([
      [{ env: { A: 1 } }, 'env.A'],
      [{ env: ['A=1'] }, 'env'],
      [{ env: { STARTED_BY_USER: 'me' } }, 'env.STARTED_BY_USER'],
      [{ taskEnv: { 1: { A: true } } }, 'taskEnv.1.A'],
      [{ taskEnv: { first: { A: 'x' } } }, 'taskEnv.first'],
      [{ taskEnv: { 1: 'A=x' } }, 'taskEnv.1'],
      [{ metadata: { a: 1 } }, 'metadata.a'],
    ])('%j → 400 on %s', (fields, field) => {
      expectInvalid(() => validateDeploy(deploy(fields), worker), field);
    });

    it('keeps maps of strings', () => {
      const result = validateDeploy(deploy({ env: { A: '1' }, taskEnv: { 1: { B: '2' } } }), worker);
      expect(result.env).toEqual({ A: '1' });
      expect(result.taskEnv).toEqual({ 1: { B: '2' } });
    });
  });

  describe('health check', () => {
    it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
      [
        'all legacy fields',
        {
          healthcheckUri: '/health',
          healthcheckIntervalSeconds: 7,
          healthcheckTimeoutSeconds: 3,
          healthcheckPortIndex: 1,
          healthcheckMaxRetries: 4,
          healthcheckProtocol: 'HTTPS',
        },
        { uri: '/health', portIndex: 1, protocol: 'HTTPS', intervalSeconds: 7, responseTimeoutSeconds: 3, maxRetries: 4 },
      ],
      ['uri alone', { healthcheckUri: '/h' }, { uri: '/h' }],
      ['the write-only healthCheckProtocol', { healthcheckUri: '/h', healthCheckProtocol: 'HTTP2' }, { uri: '/h', protocol: 'HTTP2' }],
    ])('folds %s into healthcheck', (_name, fields, healthcheck) => {
      const result = validateDeploy(deploy({ resources: { numPorts: 2 }, ...fields }), worker);
      expect(result.healthcheck).toEqual(healthcheck);
      expect(result.healthcheckUri).toBe(fields['healthcheckUri']);
      expect(result).not.toHaveProperty('healthCheckProtocol');
    });

    it('prefers an explicit healthcheck over the legacy fields', () => {
      const result = validateDeploy(
        deploy({ resources: { numPorts: 1 }, healthcheckUri: '/old', healthcheck: { uri: '/new', maxRetries: 2 } }),
        worker,
      );
      expect(result.healthcheck).toEqual({ uri: '/new', maxRetries: 2 });
    });

    it.each<[string, Record<string, unknown>, string, string | RegExp]>([
      [
        'a uri check without ports',
        { healthcheck: { uri: '/h' } },
        'healthcheck.portIndex',
        /^healthcheck\.portIndex: a uri health check on port index 0 needs resources\.numPorts > 0 \(got numPorts 0\)/,
      ],
      ['a portIndex beyond numPorts', { resources: { numPorts: 1 }, healthcheck: { uri: '/h', portIndex: 1 } }, 'healthcheck.portIndex', /numPorts > 1/],
      ['a legacy uri check without ports', { healthcheckUri: '/h' }, 'healthcheckPortIndex', /^healthcheckPortIndex: a uri health check/],
      ['startupDelaySeconds 600', { resources: { numPorts: 1 }, healthcheck: { uri: '/h', startupDelaySeconds: 600 } }, 'healthcheck.startupDelaySeconds', 'healthcheck.startupDelaySeconds: must be less than 600 (got 600)'],
      ['no uri nor result file', { healthcheck: { intervalSeconds: 5 } }, 'healthcheck.uri', 'healthcheck.uri: required (or healthcheckResultFilePath)'],
      ['portIndex and portNumber', { resources: { numPorts: 1 }, healthcheck: { uri: '/h', portIndex: 0, portNumber: 8080 } }, 'healthcheck.portNumber', /cannot be combined/],
      ['an unknown protocol', { resources: { numPorts: 1 }, healthcheck: { uri: '/h', protocol: 'GOPHER' } }, 'healthcheck.protocol', /must be one of HTTP, HTTPS, HTTP2, HTTPS2/],
      ['an unknown method', { resources: { numPorts: 1 }, healthcheck: { uri: '/h', method: 'PUT' } }, 'healthcheck.method', /must be one of GET, POST/],
      ['a legacy protocol typo', { healthcheckUri: '/h', healthcheckProtocol: 'FTP' }, 'healthcheckProtocol', /must be one of/],
      ['bad failure codes', { resources: { numPorts: 1 }, healthcheck: { uri: '/h', failureStatusCodes: [42] } }, 'healthcheck.failureStatusCodes[0]', /at least 100/],
    ])('400 for %s', (_name, fields, field, message) => {
      expectInvalid(() => validateDeploy(deploy(fields), worker), field, message);
    });

    it.each<[string, Record<string, unknown>]>([
      ['a portNumber without ports', { healthcheck: { uri: '/h', portNumber: 8080 } }],
      ['a result file check without ports', { healthcheck: { healthcheckResultFilePath: 'healthy' } }],
      ['startupDelaySeconds 599', { resources: { numPorts: 1 }, healthcheck: { uri: '/h', startupDelaySeconds: 599 } }],
    ])('accepts %s', (_name, fields) => {
      expect(validateDeploy(deploy(fields), worker).healthcheck).toBeDefined();
    });
  });

  describe('executorData', () => {
    const custom = (executorData: Record<string, unknown>) =>
      ({ requestId: 'app', id: 'd1', customExecutorCmd: '/usr/bin/executor', executorData: { cmd: 'run', ...executorData } });

    it('keeps a full executorData', () => {
      const executorData = {
        cmd: 'run',
        embeddedArtifacts: [{ name: 'cfg', filename: 'app.conf', md5sum: 'abc', content: Buffer.from('hello').toString('base64') }],
        externalArtifacts: [{ filename: 'app.tgz', url: 'http://x/app.tgz', filesize: 10, targetFolderRelativeToTask: 'app' }],
        s3Artifacts: [{ filename: 'a.jar', s3Bucket: 'b', s3ObjectKey: 'k/a.jar' }],
        successfulExitCodes: [0, 3],
        user: 'deploy',
        extraCmdLineArgs: ['--x'],
        loggingExtraFields: { team: 'paas' },
        sigKillProcessesAfterMillis: 120000,
        preserveTaskSandboxAfterFinish: true,
        skipLogrotateAndCompress: false,
        logrotateFrequency: 'EVERY_FIVE_MINUTES',
      };
      expect(validateDeploy(custom(executorData), worker).executorData).toEqual(executorData);
    });

    it('normalizes byte-array content to base64', () => {
      const result = validateDeploy(custom({ embeddedArtifacts: [{ filename: 'f', content: [104, 105] }] }), worker);
      expect(result.executorData?.embeddedArtifacts?.[0].content).toBe('aGk=');
    });

    it.each<[Record<string, unknown>, string]>([
      [{ cmd: undefined }, 'executorData.cmd'],
      [{ embeddedArtifacts: [{ filename: 'f', content: 'not base64!' }] }, 'executorData.embeddedArtifacts[0].content'],
      [{ embeddedArtifacts: [{ filename: 'f', content: 'abcde' }] }, 'executorData.embeddedArtifacts[0].content'],
      [{ embeddedArtifacts: [{ content: 'aGk=' }] }, 'executorData.embeddedArtifacts[0].filename'],
      [{ embeddedArtifacts: [{ filename: '../../etc/passwd', content: 'aGk=' }] }, 'executorData.embeddedArtifacts[0].filename'],
      [{ externalArtifacts: [{ filename: 'f' }] }, 'executorData.externalArtifacts[0].url'],
      [{ s3Artifacts: [{ filename: 'f', s3Bucket: 'b' }] }, 'executorData.s3Artifacts[0].s3ObjectKey'],
      [{ successfulExitCodes: [0, 'x'] }, 'executorData.successfulExitCodes[1]'],
      [{ logrotateFrequency: 'YEARLY' }, 'executorData.logrotateFrequency'],
      [{ sigKillProcessesAfterMillis: -1 }, 'executorData.sigKillProcessesAfterMillis'],
    ])('%j → 400 on %s', (fields, field) => {
      expectInvalid(() => validateDeploy(custom(fields), worker), field);
    });
  });

  describe('uris', () => {
    it('normalizes strings and objects with the reference defaults', () => {
      const result = validateDeploy(deploy({ uris: ['http://x/a.tgz', { uri: 'http://x/b', executable: true, outputFile: 'b.sh' }] }), worker);
      expect(result.uris).toEqual([
        { uri: 'http://x/a.tgz', cache: false, executable: false, extract: true },
        { uri: 'http://x/b', cache: false, executable: true, extract: true, outputFile: 'b.sh' },
      ]);
    });

    it('needs a uri', () => {
      expectInvalid(() => validateDeploy(deploy({ uris: [{ extract: false }] }), worker), 'uris[0].uri');
    });
  });

  describe('load balancing', () => {
    const lbFields = { serviceBasePath: '/app', loadBalancerGroups: ['web'], resources: { numPorts: 1 } };

    it('requires serviceBasePath and groups for a load-balanced request', () => {
      expectInvalid(() => validateDeploy(deploy({ loadBalancerGroups: ['web'] }), lbService), 'serviceBasePath');
      expectInvalid(() => validateDeploy(deploy({ serviceBasePath: '/app' }), lbService), 'loadBalancerGroups');
      expectInvalid(() => validateDeploy(deploy({ serviceBasePath: '/app', loadBalancerGroups: [] }), lbService), 'loadBalancerGroups');
      expect(validateDeploy(deploy(lbFields), lbService).serviceBasePath).toBe('/app');
    });

    it('checks loadBalancerPortIndex against numPorts and passes the other fields through', () => {
      expectInvalid(() => validateDeploy(deploy({ ...lbFields, loadBalancerPortIndex: 1 }), lbService), 'loadBalancerPortIndex');
      const extra = {
        loadBalancerOptions: { sticky: true, weights: [1, 2] },
        loadBalancerDomains: ['a.example'],
        loadBalancerAdditionalRoutes: ['/b'],
        loadBalancerTemplate: 't',
        loadBalancerServiceIdOverride: 's',
        loadBalancerUpstreamGroup: 'u',
      };
      expect(validateDeploy(deploy({ ...lbFields, ...extra, loadBalancerPortIndex: 0 }), lbService)).toMatchObject(extra);
    });
  });

  describe('steps (canary)', () => {
    it.each<[Record<string, unknown>, Record<string, unknown>]>([
      [{ deployInstanceCountPerStep: 2 }, { enableCanaryDeploy: true, instanceGroupSize: 2 }],
      [{ deployStepWaitTimeMs: 5000 }, { acceptanceMode: 'TIMED', waitMillisBetweenGroups: 5000 }],
      [{ maxTaskRetries: 1 }, { allowedTasksFailuresPerGroup: 1 }],
      [{ autoAdvanceDeploySteps: true }, { enableCanaryDeploy: false }],
    ])('legacy %j is kept and translated', (legacy, settings) => {
      const result = validateDeploy(deploy(legacy), service);
      expect(result).toMatchObject(legacy);
      expect(result.canaryDeploySettings).toMatchObject(settings);
    });

    it('takes canaryDeploySettings as sent, with defaults for missing parts', () => {
      const result = validateDeploy(deploy({ canaryDeploySettings: { enableCanaryDeploy: true, acceptanceMode: 'CHECKS' }, deployInstanceCountPerStep: 5 }), service);
      expect(result.canaryDeploySettings).toEqual({
        enableCanaryDeploy: true,
        instanceGroupSize: 1,
        acceptanceMode: 'CHECKS',
        waitMillisBetweenGroups: 0,
        allowedTasksFailuresPerGroup: 0,
        canaryCycleCount: 3,
      });
    });

    it('checks canary fields', () => {
      expectInvalid(() => validateDeploy(deploy({ canaryDeploySettings: { acceptanceMode: 'MAYBE' } }), service), 'canaryDeploySettings.acceptanceMode');
      expectInvalid(() => validateDeploy(deploy({ deployInstanceCountPerStep: 0 }), service), 'deployInstanceCountPerStep');
    });
  });

  describe('runImmediately', () => {
    it('is allowed for ON_DEMAND and SCHEDULED', () => {
      const result = validateDeploy(deploy({ runImmediately: { runId: 'r1', commandLineArgs: ['--now'] } }), onDemand);
      expect(result.runImmediately).toEqual({ runId: 'r1', commandLineArgs: ['--now'] });
      const scheduled: SingularityRequest = { id: 'app', requestType: 'SCHEDULED', schedule: '* * * * *' };
      expect(validateDeploy(deploy({ runImmediately: {} }), scheduled).runImmediately).toEqual({});
    });

    it('is refused for long-running requests and checked like a run-now body', () => {
      expectInvalid(() => validateDeploy(deploy({ runImmediately: {} }), service), 'runImmediately', /requestType is SERVICE/);
      expectInvalid(() => validateDeploy(deploy({ runImmediately: { runId: 'x'.repeat(101) } }), onDemand), 'runImmediately.runId');
    });
  });

  it('is idempotent (property)', () => {
    const text = fc.string({ maxLength: 10 });
    const envName = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,8}$/);
    const input = fc.record(
      {
        requestId: fc.constant('app'),
        id: fc.stringMatching(/^[A-Za-z0-9_.]{1,50}$/),
        command: text.filter((s) => s.length > 0),
        arguments: fc.array(text, { maxLength: 3 }),
        shell: fc.boolean(),
        resources: fc.record(
          {
            cpus: fc.double({ min: 0.1, max: 4, noNaN: true }),
            memoryMb: fc.integer({ min: 1, max: 4096 }),
            numPorts: fc.integer({ min: 1, max: 4 }),
            diskMb: fc.integer({ min: 0, max: 1000 }),
          },
          { requiredKeys: ['numPorts'] },
        ),
        env: fc.dictionary(envName, text, { maxKeys: 3 }),
        taskEnv: fc.dictionary(fc.integer({ min: 1, max: 5 }).map(String), fc.dictionary(envName, text, { maxKeys: 2 }), { maxKeys: 2 }),
        uris: fc.array(fc.oneof(fc.constant('http://x/a'), fc.record({ uri: fc.constant('http://x/b'), extract: fc.boolean() })), { maxLength: 2 }),
        healthcheckUri: fc.constant('/health'),
        healthCheckProtocol: fc.constantFrom('HTTP', 'HTTPS'),
        healthcheckMaxRetries: fc.integer({ min: 0, max: 5 }),
        deployInstanceCountPerStep: fc.integer({ min: 1, max: 3 }),
        deployStepWaitTimeMs: fc.integer({ min: 0, max: 10000 }),
        maxTaskRetries: fc.integer({ min: 0, max: 3 }),
        metadata: fc.dictionary(text, text, { maxKeys: 2 }),
        junk: fc.anything(),
      },
      { requiredKeys: ['requestId', 'id', 'command', 'resources'] },
    );
    fc.assert(
      fc.property(input, (raw) => {
        const once = validateDeploy(raw, service);
        expect(validateDeploy(JSON.parse(JSON.stringify(once)), service)).toEqual(once);
      }),
      { numRuns: 200 },
    );
  });
});

describe('validateDeployRequest', () => {
  it('checks the envelope without a request', () => {
    const body = { deploy: deploy(), unpauseOnSuccessfulDeploy: true, message: 'go', other: 1 };
    expect(validateDeployRequest(body)).toEqual({ deploy: deploy(), unpauseOnSuccessfulDeploy: true, message: 'go' });
  });

  it.each<[unknown, string]>([
    [{}, 'deploy'],
    [{ deploy: 'x' }, 'deploy'],
    [{ deploy: { id: 'd1' } }, 'deploy.requestId'],
    [{ deploy: deploy(), unpauseOnSuccessfulDeploy: 'yes' }, 'unpauseOnSuccessfulDeploy'],
    [{ deploy: deploy(), message: 5 }, 'message'],
    [{ deploy: deploy(), updatedRequest: { id: 'other', requestType: 'WORKER' } }, 'updatedRequest.id'],
    [{ deploy: deploy(), updatedRequest: { id: 'app', instances: 0 } }, 'updatedRequest.instances'],
    [null, 'body'],
  ])('%j → 400 on %s', (body, field) => {
    expectInvalid(() => validateDeployRequest(body), field);
  });

  it('validates the deploy against the stored request, naming fields under deploy', () => {
    const result = validateDeployRequest({ deploy: deploy() }, { request: worker });
    expect(result.deploy.resources).toEqual({ cpus: 1, memoryMb: 64, numPorts: 0, diskMb: 0 });
    expectInvalid(() => validateDeployRequest({ deploy: deploy({ id: 'a-b' }) }, { request: worker }), 'deploy.id');
    expectInvalid(() => validateDeployRequest({ deploy: deploy({ requestId: 'zzz' }) }, { request: worker }), 'deploy.requestId');
  });

  it('validates against updatedRequest and applies the change rules', () => {
    const body = (updatedRequest: Record<string, unknown>) => ({ deploy: deploy({ runImmediately: {} }), updatedRequest });
    // runImmediately is fine because the updated request is ON_DEMAND... but WORKER → ON_DEMAND is not a legal change.
    expectInvalid(() => validateDeployRequest(body({ id: 'app', requestType: 'ON_DEMAND' }), { request: worker }), 'updatedRequest.requestType');
    const ok = validateDeployRequest(body({ id: 'app', requestType: 'ON_DEMAND', instances: 3 }), { request: onDemand });
    expect(ok.updatedRequest?.instances).toBe(3);
    expect(ok.deploy.runImmediately).toEqual({});
  });
});
