// Proves loadConfig's defaults, ranges, relations and loopback rule by calling it with literal
// environments, and that loadConfigOrExit exits 2 by running it in a child node process.
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Config } from '../../src/config.js';
import { usableCores } from '../../src/cores.js';

type Env = Record<string, string | undefined>;

/** The ConfigError that loadConfig throws for `env`; fails the test if it does not throw one. */
function configError(env: Env): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

const thirtyDaysSeconds = 2_592_000;

// Every integer variable with its field, range and one valid non-default value.
const integerVariables: ReadonlyArray<{
  variable: string;
  field: keyof Config;
  min: number;
  max: number;
  valid: number;
}> = [
  { variable: 'PORT', field: 'port', min: 0, max: 65_535, valid: 0 },
  { variable: 'SHARDS', field: 'shards', min: 1, max: 64, valid: 3 },
  { variable: 'LEDGER_PARTITIONS', field: 'partitions', min: 1, max: 65_536, valid: 1024 },
  {
    variable: 'LEDGER_BODY_BYTES_MAX',
    field: 'bodyBytesMax',
    min: 256,
    max: 1_048_576,
    valid: 512,
  },
  {
    variable: 'LEDGER_IMPORT_BYTES_MAX',
    field: 'importBytesMax',
    min: 256,
    max: 67_108_864,
    valid: 1024,
  },
  {
    variable: 'LEDGER_IMPORT_LINES_MAX',
    field: 'importLinesMax',
    min: 1,
    max: 100_000,
    valid: 50,
  },
  { variable: 'LEDGER_QUANTITY_MAX', field: 'quantityMax', min: 1, max: 1_000_000, valid: 5 },
  {
    variable: 'LEDGER_TTL_SECONDS_MIN',
    field: 'ttlSecondsMin',
    min: 1,
    max: thirtyDaysSeconds,
    valid: 30,
  },
  {
    variable: 'LEDGER_TTL_SECONDS_MAX',
    field: 'ttlSecondsMax',
    min: 1,
    max: thirtyDaysSeconds,
    valid: 7200,
  },
  {
    variable: 'LEDGER_TTL_SECONDS_DEFAULT',
    field: 'ttlSecondsDefault',
    min: 1,
    max: thirtyDaysSeconds,
    valid: 120,
  },
  { variable: 'LEDGER_CART_LINES_MAX', field: 'cartLinesMax', min: 1, max: 1000, valid: 5 },
  {
    variable: 'LEDGER_SHARD_INFLIGHT_MAX',
    field: 'shardInflightMax',
    min: 1,
    max: 1_000_000,
    valid: 16,
  },
  {
    variable: 'LEDGER_SHARD_QUEUE_DELAY_MS',
    field: 'shardQueueDelayMs',
    min: 0,
    max: 60_000,
    valid: 20,
  },
  {
    variable: 'LEDGER_SHARD_SHED_FLOOR',
    field: 'shardShedFloor',
    min: 1,
    max: 1_000_000,
    valid: 64,
  },
  {
    variable: 'LEDGER_RETAIN_FINISHED_SECONDS',
    field: 'retainFinishedSeconds',
    min: 1,
    max: thirtyDaysSeconds,
    valid: 3600,
  },
  {
    variable: 'LEDGER_RETAIN_FINISHED_MAX',
    field: 'retainFinishedMax',
    min: 1,
    max: 100_000_000,
    valid: 10,
  },
  {
    variable: 'LEDGER_SNAPSHOT_EVERY_RECORDS',
    field: 'snapshotEveryRecords',
    min: 1,
    max: 100_000_000,
    valid: 100,
  },
  {
    variable: 'LEDGER_WAL_BATCH_RECORDS_MAX',
    field: 'walBatchRecordsMax',
    min: 1,
    max: 65_536,
    valid: 64,
  },
  { variable: 'LEDGER_COMMITS_IN_FLIGHT', field: 'commitsInFlight', min: 1, max: 4, valid: 2 },
  {
    variable: 'LEDGER_SHARD_YOUNG_GENERATION_MB',
    field: 'shardYoungGenerationMb',
    min: 0,
    max: 1024,
    valid: 8,
  },
  {
    variable: 'LEDGER_WORKER_OLD_GENERATION_FLOOR_MB',
    field: 'workerOldGenerationFloorMb',
    min: 0,
    max: 4096,
    valid: 64,
  },
  { variable: 'LEDGER_EXPIRY_SWEEP_MS', field: 'expirySweepMs', min: 1, max: 60_000, valid: 5 },
  {
    variable: 'LEDGER_HISTORY_RETAIN_DAYS',
    field: 'historyRetainDays',
    min: 1,
    max: 3650,
    valid: 7,
  },
  { variable: 'LEDGER_WAL_RETAIN_HOURS', field: 'walRetainHours', min: 1, max: 87_600, valid: 2 },
];

describe('loadConfig defaults', () => {
  it('gives every documented default for an empty environment', () => {
    expect(loadConfig({})).toEqual({
      host: '127.0.0.1',
      port: 8080,
      healthPort: undefined,
      databaseUrl: undefined,
      dataDir: resolve('./data'),
      natsUrl: undefined,
      events: {
        streamName: 'INVENTORY',
        subjectPrefix: '',
        duplicateWindowSeconds: 120,
        maxAgeSeconds: 604_800,
      },
      shards: Math.min(usableCores(), 64),
      partitions: 256,
      bodyBytesMax: 16_384,
      importBytesMax: 4_194_304,
      importLinesMax: 10_000,
      quantityMax: 1000,
      ttlSecondsMin: 60,
      ttlSecondsMax: 3600,
      ttlSecondsDefault: 600,
      cartLinesMax: 100,
      shardInflightMax: 8192,
      shardQueueDelayMs: 100,
      shardShedFloor: 512,
      retainFinishedSeconds: 86_400,
      retainFinishedMax: 1_000_000,
      snapshotEveryRecords: 50_000,
      walBatchRecordsMax: 4096,
      commitsInFlight: 1,
      shardYoungGenerationMb: 0,
      workerOldGenerationFloorMb: 128,
      expirySweepMs: 100,
      historyRetainDays: 90,
      walRetainHours: 168,
      logLevel: 'info',
      authMode: 'unset',
      jwtSecret: undefined,
      jwtPublicKeyPath: undefined,
      rateLimitPerSecond: 0,
      rateLimitBurst: 0,
      metricsHotKeys: 100,
      journalClaimWaitSeconds: 30,
      allowUwsFallback: false,
      workerOldGenerationFloorSet: false,
      tracing: undefined,
      cluster: undefined,
      timelineFile: undefined,
    } satisfies Config);
  });

  it('reads a cluster node: NATS needed, the node id checked, the lease bounded', () => {
    const nats = { NATS_URL: 'nats://127.0.0.1:4222' };
    expect(loadConfig({ LEDGER_CLUSTER: '1', LEDGER_NODE_ID: 'node-a', ...nats }).cluster).toEqual({
      nodeId: 'node-a',
      leaseSeconds: 5,
    });
    expect(() => loadConfig({ LEDGER_CLUSTER: '1', LEDGER_NODE_ID: 'node-a' })).toThrow(/NATS_URL/);
    expect(() => loadConfig({ LEDGER_CLUSTER: '1', LEDGER_NODE_ID: 'a b', ...nats })).toThrow(
      /LEDGER_NODE_ID/,
    );
    expect(() =>
      loadConfig({ LEDGER_CLUSTER: '1', LEDGER_NODE_ID: 'a', LEDGER_LEASE_SECONDS: '1', ...nats }),
    ).toThrow(/LEDGER_LEASE_SECONDS/);
    expect(loadConfig({ LEDGER_NODE_ID: 'a', ...nats }).cluster).toBeUndefined();
  });

  it('returns a data directory that is absolute', () => {
    expect(loadConfig({ LEDGER_DATA_DIR: 'some/dir' }).dataDir).toBe(resolve('some/dir'));
    expect(loadConfig({ LEDGER_DATA_DIR: '/var/ledger' }).dataDir).toBe('/var/ledger');
  });
});

describe('loadConfig integer variables', () => {
  for (const { variable, field, min, max, valid } of integerVariables) {
    it(`reads ${variable} into ${field}, including both ends of its range`, () => {
      // The TTL variables are set together so that the relations between them hold.
      const base: Env = variable.startsWith('LEDGER_TTL_SECONDS_')
        ? {
            LEDGER_TTL_SECONDS_MIN: '1',
            LEDGER_TTL_SECONDS_MAX: String(thirtyDaysSeconds),
            LEDGER_TTL_SECONDS_DEFAULT: '1',
          }
        : {};
      for (const value of [valid, min, max]) {
        const env: Env = { ...base, [variable]: String(value) };
        if (variable === 'LEDGER_TTL_SECONDS_MIN')
          env['LEDGER_TTL_SECONDS_DEFAULT'] = String(value);
        expect(loadConfig(env)[field]).toBe(value);
      }
    });

    it(`refuses ${variable} values that are not plain integers or out of range`, () => {
      for (const bad of [
        'abc',
        '12abc',
        '1.5',
        '',
        ' 3',
        '3 ',
        '1e3',
        '0x10',
        '+5',
        String(min - 1),
      ]) {
        const error = configError({ [variable]: bad });
        expect(error.variable).toBe(variable);
        expect(error.message).toBe(
          `${variable} must be an integer between ${min} and ${max}, got ${JSON.stringify(bad)}`,
        );
      }
      expect(configError({ [variable]: String(max + 1) }).variable).toBe(variable);
    });
  }

  it('accepts leading zeros, which are still a plain decimal integer', () => {
    expect(loadConfig({ PORT: '0080' }).port).toBe(80);
  });

  it('words the PORT message as the contract shows it', () => {
    expect(configError({ PORT: 'abc' }).message).toBe(
      'PORT must be an integer between 0 and 65535, got "abc"',
    );
  });

  it('refuses a number too large to be represented exactly', () => {
    expect(configError({ LEDGER_RETAIN_FINISHED_MAX: '9'.repeat(30) }).variable).toBe(
      'LEDGER_RETAIN_FINISHED_MAX',
    );
  });
});

describe('loadConfig TTL relations', () => {
  it('refuses LEDGER_TTL_SECONDS_MAX below LEDGER_TTL_SECONDS_MIN', () => {
    const error = configError({
      LEDGER_TTL_SECONDS_MIN: '500',
      LEDGER_TTL_SECONDS_MAX: '400',
      LEDGER_TTL_SECONDS_DEFAULT: '450',
    });
    expect(error.variable).toBe('LEDGER_TTL_SECONDS_MAX');
    expect(error.message).toContain('LEDGER_TTL_SECONDS_MAX');
    expect(error.message).toContain('LEDGER_TTL_SECONDS_MIN (500)');
  });

  it('accepts min equal to max with the default on both', () => {
    const config = loadConfig({
      LEDGER_TTL_SECONDS_MIN: '300',
      LEDGER_TTL_SECONDS_MAX: '300',
      LEDGER_TTL_SECONDS_DEFAULT: '300',
    });
    expect([config.ttlSecondsMin, config.ttlSecondsMax, config.ttlSecondsDefault]).toEqual([
      300, 300, 300,
    ]);
  });

  it('refuses a default below the minimum or above the maximum', () => {
    for (const ttlDefault of ['59', '3601']) {
      const error = configError({ LEDGER_TTL_SECONDS_DEFAULT: ttlDefault });
      expect(error.variable).toBe('LEDGER_TTL_SECONDS_DEFAULT');
      expect(error.message).toBe(
        'LEDGER_TTL_SECONDS_DEFAULT must be between LEDGER_TTL_SECONDS_MIN (60) and ' +
          `LEDGER_TTL_SECONDS_MAX (3600), got ${ttlDefault}`,
      );
    }
  });

  it('refuses a maximum that leaves the default default outside the range', () => {
    expect(configError({ LEDGER_TTL_SECONDS_MAX: '300' }).variable).toBe(
      'LEDGER_TTL_SECONDS_DEFAULT',
    );
    expect(configError({ LEDGER_TTL_SECONDS_MIN: '7200' }).variable).toBe('LEDGER_TTL_SECONDS_MAX');
  });

  it('refuses a maximum above 30 days', () => {
    expect(configError({ LEDGER_TTL_SECONDS_MAX: String(thirtyDaysSeconds + 1) }).variable).toBe(
      'LEDGER_TTL_SECONDS_MAX',
    );
  });
});

describe('loadConfig URLs', () => {
  it('accepts postgres:// and postgresql:// for DATABASE_URL', () => {
    for (const url of ['postgres://u:p@db:5432/ledger', 'postgresql://localhost/ledger']) {
      expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
    }
  });

  it('treats an empty DATABASE_URL or NATS_URL as unset', () => {
    const config = loadConfig({ DATABASE_URL: '', NATS_URL: '' });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.natsUrl).toBeUndefined();
  });

  it('refuses DATABASE_URL with another scheme without echoing its password', () => {
    for (const url of ['mysql://u:secret@db/ledger', 'secret', 'POSTGRES-ish://secret']) {
      const error = configError({ DATABASE_URL: url });
      expect(error.variable).toBe('DATABASE_URL');
      expect(error.message).toContain('DATABASE_URL must start with postgres:// or postgresql://');
      expect(error.message).not.toContain('secret');
    }
  });

  it('refuses a DATABASE_URL with the right scheme that does not parse', () => {
    const error = configError({ DATABASE_URL: 'postgres://u:secret@db:99999999/ledger' });
    expect(error.variable).toBe('DATABASE_URL');
    expect(error.message).not.toContain('secret');
  });

  it('accepts nats:// and tls:// NATS_URL values', () => {
    for (const url of ['nats://127.0.0.1:4222', 'tls://user:pass@nats.example:4222']) {
      expect(loadConfig({ NATS_URL: url }).natsUrl).toBe(url);
    }
  });

  it('refuses a NATS_URL that is not a URL without echoing it', () => {
    const error = configError({ NATS_URL: 'not a url with secret' });
    expect(error.variable).toBe('NATS_URL');
    expect(error.message).toBe('NATS_URL must be a valid URL (value not shown)');
  });
});

describe('loadConfig tracing settings', () => {
  it('is off without an OTLP endpoint, on with either one, with its defaults', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }).tracing).toBeUndefined();
    const expected = { serviceName: 'inventory-ledger', samplePercent: 100 };
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }).tracing).toEqual(
      expected,
    );
    const traces = { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://otel.internal/v1/traces' };
    expect(loadConfig(traces).tracing).toEqual(expected);
    expect(
      loadConfig({ ...traces, OTEL_SERVICE_NAME: 'ledger-eu', LEDGER_TRACES_SAMPLE_PERCENT: '5' })
        .tracing,
    ).toEqual({ serviceName: 'ledger-eu', samplePercent: 5 });
  });

  it('refuses an endpoint that is not http(s) and a share beyond 0..100', () => {
    expect(configError({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://collector:4317' }).variable).toBe(
      'OTEL_EXPORTER_OTLP_ENDPOINT',
    );
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };
    expect(configError({ ...endpoint, LEDGER_TRACES_SAMPLE_PERCENT: '101' }).variable).toBe(
      'LEDGER_TRACES_SAMPLE_PERCENT',
    );
  });
});

describe('loadConfig event stream settings', () => {
  it('reads the stream name, subject prefix, duplicate window and maximum age', () => {
    expect(
      loadConfig({
        LEDGER_EVENTS_STREAM: 'INVENTORY_STAGING',
        LEDGER_EVENTS_SUBJECT_PREFIX: 'staging.eu-1.',
        LEDGER_EVENTS_DUPLICATE_WINDOW_SECONDS: '300',
        LEDGER_EVENTS_MAX_AGE_SECONDS: '0',
      }).events,
    ).toEqual({
      streamName: 'INVENTORY_STAGING',
      subjectPrefix: 'staging.eu-1.',
      duplicateWindowSeconds: 300,
      maxAgeSeconds: 0,
    });
  });

  it('refuses stream names and subject prefixes JetStream would not take, naming the variable', () => {
    for (const name of ['', 'has space', 'dotted.name', 'wild*', 'x'.repeat(65)]) {
      expect(configError({ LEDGER_EVENTS_STREAM: name }).variable).toBe('LEDGER_EVENTS_STREAM');
    }
    for (const prefix of ['staging', '.staging.', 'a..b.', 'wild.*.', 'all.>.', 'sp ace.']) {
      expect(configError({ LEDGER_EVENTS_SUBJECT_PREFIX: prefix }).variable).toBe(
        'LEDGER_EVENTS_SUBJECT_PREFIX',
      );
    }
  });

  it('refuses a duplicate window outside 1 s..1 day or longer than the maximum age', () => {
    for (const value of ['0', '86401', '1.5']) {
      expect(configError({ LEDGER_EVENTS_DUPLICATE_WINDOW_SECONDS: value }).variable).toBe(
        'LEDGER_EVENTS_DUPLICATE_WINDOW_SECONDS',
      );
    }
    expect(
      configError({
        LEDGER_EVENTS_DUPLICATE_WINDOW_SECONDS: '600',
        LEDGER_EVENTS_MAX_AGE_SECONDS: '300',
      }).variable,
    ).toBe('LEDGER_EVENTS_MAX_AGE_SECONDS');
    expect(configError({ LEDGER_EVENTS_MAX_AGE_SECONDS: '31536001' }).variable).toBe(
      'LEDGER_EVENTS_MAX_AGE_SECONDS',
    );
  });
});

describe('loadConfig enumerations and flags', () => {
  it('reads every log level and refuses any other', () => {
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const) {
      expect(loadConfig({ LOG_LEVEL: level }).logLevel).toBe(level);
    }
    for (const bad of ['INFO', 'verbose', '']) {
      const error = configError({ LOG_LEVEL: bad });
      expect(error.variable).toBe('LOG_LEVEL');
      expect(error.message).toContain(`LOG_LEVEL must be one of fatal, error`);
      expect(error.message).toContain(`got ${JSON.stringify(bad)}`);
    }
  });

  it('reads LEDGER_AUTH=none and refuses any other value', () => {
    expect(loadConfig({ LEDGER_AUTH: 'none' }).authMode).toBe('none');
    for (const bad of ['off', 'None', '', 'jwt']) {
      const error = configError({ LEDGER_AUTH: bad });
      expect(error.variable).toBe('LEDGER_AUTH');
      expect(error.message).toBe(`LEDGER_AUTH must be none or unset, got ${JSON.stringify(bad)}`);
    }
  });

  it('reads LEDGER_ALLOW_UWS_FALLBACK as 1/true or 0/false and refuses anything else', () => {
    const read = (value: string) => loadConfig({ LEDGER_ALLOW_UWS_FALLBACK: value });
    expect(read('1').allowUwsFallback).toBe(true);
    expect(read('true').allowUwsFallback).toBe(true);
    expect(read('0').allowUwsFallback).toBe(false);
    expect(read('false').allowUwsFallback).toBe(false);
    for (const bad of ['yes', 'TRUE', '2', '']) {
      const error = configError({ LEDGER_ALLOW_UWS_FALLBACK: bad });
      expect(error.variable).toBe('LEDGER_ALLOW_UWS_FALLBACK');
      expect(error.message).toContain('LEDGER_ALLOW_UWS_FALLBACK must be');
    }
  });

  it('refuses an empty HOST or LEDGER_DATA_DIR', () => {
    expect(configError({ HOST: '' }).variable).toBe('HOST');
    expect(configError({ LEDGER_DATA_DIR: '' }).variable).toBe('LEDGER_DATA_DIR');
  });
});

describe('loadConfig loopback rule while auth is off', () => {
  const loopbacks = ['127.0.0.1', '127.8.9.10', '::1', '0:0:0:0:0:0:0:1', 'localhost', 'LocalHost'];
  const others = ['0.0.0.0', '::', '10.0.0.5', 'example.com', '128.0.0.1', '127.example.com'];

  it('binds loopback hosts without LEDGER_AUTH', () => {
    for (const host of loopbacks) expect(loadConfig({ HOST: host }).host).toBe(host);
  });

  it('refuses a non-loopback HOST without LEDGER_AUTH=none, naming HOST', () => {
    for (const host of others) {
      const error = configError({ HOST: host });
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.name).toBe('ConfigError');
      expect(error.variable).toBe('HOST');
      expect(error.message).toContain('HOST must be a loopback address');
      expect(error.message).toContain('LEDGER_AUTH=none');
      expect(error.message).toContain(JSON.stringify(host));
    }
  });

  it('binds a non-loopback HOST when LEDGER_AUTH=none says so explicitly', () => {
    for (const host of others) {
      const config = loadConfig({ HOST: host, LEDGER_AUTH: 'none' });
      expect(config.host).toBe(host);
      expect(config.authMode).toBe('none');
    }
  });
});

describe('LEDGER_HEALTH_PORT', () => {
  it('leaves the health listener off when unset or empty', () => {
    expect(loadConfig({}).healthPort).toBeUndefined();
    expect(loadConfig({ LEDGER_HEALTH_PORT: '' }).healthPort).toBeUndefined();
  });

  it('reads a port, 0 (pick a free one) and both ends of the range', () => {
    for (const value of [9090, 0, 1, 65_535]) {
      expect(loadConfig({ LEDGER_HEALTH_PORT: String(value) }).healthPort).toBe(value);
    }
  });

  it('refuses values that are not plain integers or out of range, naming the variable', () => {
    for (const bad of ['abc', '80x', '1.5', ' 3', '1e3', '0x10', '+5', '-1', '65536']) {
      const error = configError({ LEDGER_HEALTH_PORT: bad });
      expect(error.variable).toBe('LEDGER_HEALTH_PORT');
      expect(error.message).toBe(
        `LEDGER_HEALTH_PORT must be an integer between 0 and 65535, got ${JSON.stringify(bad)}`,
      );
    }
  });

  it('refuses the main PORT (both bind HOST), but lets both be 0', () => {
    const same = configError({ PORT: '9000', LEDGER_HEALTH_PORT: '9000' });
    expect(same.variable).toBe('LEDGER_HEALTH_PORT');
    expect(same.message).toBe('LEDGER_HEALTH_PORT must differ from PORT (9000), got 9000');
    expect(configError({ LEDGER_HEALTH_PORT: '8080' }).variable).toBe('LEDGER_HEALTH_PORT');
    expect(loadConfig({ PORT: '0', LEDGER_HEALTH_PORT: '0' }).healthPort).toBe(0);
  });
});

describe('LEDGER_TIMELINE_FILE', () => {
  it('leaves the timeline off when unset or empty', () => {
    expect(loadConfig({}).timelineFile).toBeUndefined();
    expect(loadConfig({ LEDGER_TIMELINE_FILE: '' }).timelineFile).toBeUndefined();
  });

  it('reads a prefix in a writable directory as an absolute path', () => {
    const prefix = join(tmpdir(), 'ledger-timeline');
    expect(loadConfig({ LEDGER_TIMELINE_FILE: prefix }).timelineFile).toBe(prefix);
    expect(loadConfig({ LEDGER_TIMELINE_FILE: 'run-1' }).timelineFile).toBe(resolve('run-1'));
  });

  it('refuses a missing directory and a directory in place of a prefix, naming the variable', () => {
    for (const bad of ['/no/such/directory/run', `${tmpdir()}/`]) {
      const error = configError({ LEDGER_TIMELINE_FILE: bad });
      expect(error.variable).toBe('LEDGER_TIMELINE_FILE');
      expect(error.message).toMatch(/^LEDGER_TIMELINE_FILE must /);
    }
  });
});

describe('loadConfigOrExit', () => {
  const configUrl = new URL('../../src/config.ts', import.meta.url).href;
  const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

  /** Runs loadConfigOrExit(process.env) in a child node with `env`, printing the port it read. */
  function runChild(env: Env) {
    const code =
      `const { loadConfigOrExit } = await import(${JSON.stringify(configUrl)});\n` +
      `process.stdout.write(String(loadConfigOrExit(process.env).port));`;
    return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: projectRoot,
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
  }

  it('prints "config error: <message>" to stderr and exits 2 on a bad value', () => {
    const child = runChild({ PORT: 'abc' });
    expect(child.status).toBe(2);
    expect(child.stdout).toBe('');
    expect(child.stderr).toBe(
      'config error: PORT must be an integer between 0 and 65535, got "abc"\n',
    );
  });

  it('exits 2 naming LEDGER_HEALTH_PORT for a bad health port', () => {
    const child = runChild({ LEDGER_HEALTH_PORT: 'health' });
    expect(child.status).toBe(2);
    expect(child.stderr).toBe(
      'config error: LEDGER_HEALTH_PORT must be an integer between 0 and 65535, got "health"\n',
    );
  });

  it('exits 2 for a refused non-loopback HOST', () => {
    const child = runChild({ HOST: '0.0.0.0' });
    expect(child.status).toBe(2);
    expect(child.stderr).toMatch(/^config error: HOST must be a loopback address/);
  });

  it('returns the config and leaves the exit code alone when the environment is valid', () => {
    const child = runChild({ PORT: '9091' });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    expect(child.stdout).toBe('9091');
  });
});

describe('JWT settings', () => {
  it('turns auth on with a secret of at least 32 bytes, which also allows a public HOST', () => {
    const config = loadConfig({ LEDGER_JWT_SECRET: 'x'.repeat(32), HOST: '0.0.0.0' });
    expect(config.jwtSecret).toBe('x'.repeat(32));
    expect(config.host).toBe('0.0.0.0');
  });

  it('refuses a short secret, both keys at once, and an unreadable key file, naming the variable', () => {
    const variableOf = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (caught) {
        if (caught instanceof ConfigError) return caught.variable;
        throw caught;
      }
      return undefined;
    };
    expect(variableOf({ LEDGER_JWT_SECRET: 'short' })).toBe('LEDGER_JWT_SECRET');
    expect(
      variableOf({ LEDGER_JWT_SECRET: 'x'.repeat(40), LEDGER_JWT_PUBLIC_KEY: '/etc/hostname' }),
    ).toBe('LEDGER_JWT_PUBLIC_KEY');
    expect(variableOf({ LEDGER_JWT_PUBLIC_KEY: '/nonexistent/key.pem' })).toBe(
      'LEDGER_JWT_PUBLIC_KEY',
    );
  });
});
