// Configuration from the environment (API.md, "Running"), validated once at start so that a bad
// value stops the process with a message naming the variable instead of failing later, deep in a
// shard or the journal, with an error that no longer says where the value came from.
import { accessSync, constants } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { hostname } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import type { RetentionPolicy } from './actors/index.js';
import { usableCores } from './cores.js';
import {
  buyersPerProductMax,
  transfersInTransitMax,
  lotsPerKeyMax,
  importBytesCeiling,
  importLinesCeiling,
  onHandMax,
  shardInflightCeiling,
  shardQueueDelayMsCeiling,
  walBatchRecordsCeiling,
  commitsInFlightCeiling,
} from './limits.js';

export class ConfigError extends Error {
  readonly variable: string;

  constructor(variable: string, message: string) {
    super(message);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

export interface Config {
  host: string; // HOST, default '127.0.0.1'
  port: number; // PORT, default 8080, 0..65535 (0 = pick a free port, used by tests)
  // LEDGER_HEALTH_PORT: the node:http health listener (for HTTP/1.0 health checks) on HOST;
  // unset or empty = none, 0..65535 (0 = pick a free port), never PORT itself.
  healthPort: number | undefined;
  databaseUrl: string | undefined; // DATABASE_URL; must start with postgres:// or postgresql://
  dataDir: string; // LEDGER_DATA_DIR, default './data', resolved to an absolute path
  natsUrl: string | undefined; // NATS_URL; only checked to parse as a URL
  events: EventsConfig; // the JetStream stream events go to (used only with NATS_URL)
  shards: number; // SHARDS, default the usable cores (cores.ts), 1..64
  partitions: number; // LEDGER_PARTITIONS, default 256, 1..65536; used when a journal is created
  bodyBytesMax: number; // LEDGER_BODY_BYTES_MAX, default 16384, 256..1048576
  importBytesMax: number; // LEDGER_IMPORT_BYTES_MAX, default 4 MiB, 256..64 MiB: one stock import
  importLinesMax: number; // LEDGER_IMPORT_LINES_MAX, default 10000, 1..100000: lines of one import
  quantityMax: number; // LEDGER_QUANTITY_MAX, default 1000, 1..1_000_000
  ttlSecondsMin: number; // LEDGER_TTL_SECONDS_MIN, default 60, >= 1
  ttlSecondsMax: number; // LEDGER_TTL_SECONDS_MAX, default 3600, >= min, <= 30 days
  ttlSecondsDefault: number; // LEDGER_TTL_SECONDS_DEFAULT, default 600, within [min, max]
  cartLinesMax: number; // LEDGER_CART_LINES_MAX, default 100, 1..1000: lines of one cart
  shardInflightMax: number; // LEDGER_SHARD_INFLIGHT_MAX, default 8192, 1..1_000_000
  // LEDGER_SHARD_QUEUE_DELAY_MS, default 100, 0..60000 (0: off): a reserve that would wait longer
  // in its shard's queue is refused at once on the HTTP thread (503 overloaded, retry-after).
  shardQueueDelayMs: number;
  // LEDGER_SHARD_SHED_FLOOR, default 512, 1..1_000_000: requests in flight per shard below which
  // no reserve is shed, whatever the queue delay.
  shardShedFloor: number;
  // LEDGER_RETAIN_FINISHED_SECONDS, default 86400, 1..30 days: how long finished (confirmed,
  // released, expired) reservations and idempotency keys stay answerable.
  retainFinishedSeconds: number;
  retainFinishedMax: number; // LEDGER_RETAIN_FINISHED_MAX, default 1_000_000, 1..100_000_000 (node)
  // LEDGER_SNAPSHOT_EVERY_RECORDS, default 50_000, 1..100_000_000 (per partition)
  snapshotEveryRecords: number;
  walBatchRecordsMax: number; // LEDGER_WAL_BATCH_RECORDS_MAX, default 4096, 1..65536
  // LEDGER_SHARD_YOUNG_GENERATION_MB, default 0 (V8's own), 0..1024: each shard thread's young
  // generation. A hot key's pending holds all survive it, so its scavenges copy them: a smaller
  // one pauses the shard more often and more briefly.
  shardYoungGenerationMb: number;
  // LEDGER_WORKER_OLD_GENERATION_FLOOR_MB, default 128, 0..4096 (0: V8's own): every worker
  // thread's old generation grows to this before V8 starts a full collection (worker-heap.ts).
  // The default is fitted to a memory limit; a floor set is kept as set.
  workerOldGenerationFloorMb: number;
  // LEDGER_COMMITS_IN_FLIGHT, default 1, 1..4: group commits a shard may have in flight, each on a
  // connection of its own; replies are still released in lsn order.
  commitsInFlight: number;
  expirySweepMs: number; // LEDGER_EXPIRY_SWEEP_MS, default 100, 1..60000
  // LEDGER_HISTORY_RETAIN_DAYS, default 90, 1..3650: movements are kept at least this long; whole
  // days older than it are dropped (hourly).
  historyRetainDays: number;
  // LEDGER_WAL_RETAIN_HOURS, default 168, 1..87600: WAL rows are trimmed only once recovery and
  // the event publisher no longer need them and they are at least this old.
  walRetainHours: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; // LOG_LEVEL, 'info'
  authMode: 'none' | 'unset'; // LEDGER_AUTH: 'none' (explicitly off) or unset
  jwtSecret: string | undefined; // LEDGER_JWT_SECRET: HS256 secret, at least 32 bytes
  jwtPublicKeyPath: string | undefined; // LEDGER_JWT_PUBLIC_KEY: PEM public key or JWKS file
  rateLimitPerSecond: number; // LEDGER_RATE_LIMIT_PER_SECOND, default 0 (off), per client
  rateLimitBurst: number; // LEDGER_RATE_LIMIT_BURST, default 0 (= twice the rate)
  metricsHotKeys: number; // LEDGER_METRICS_HOT_KEYS, default 100: keys in the per-key stock gauge
  // LEDGER_JOURNAL_CLAIM_WAIT_SECONDS, default 30: how long a start waits for the journal lock
  journalClaimWaitSeconds: number;
  // LEDGER_CLUSTER=1: one node of a cluster (needs NATS_URL); LEDGER_NODE_ID (1..64 characters
  // of [A-Za-z0-9._:-], default the host name) names it; LEDGER_LEASE_SECONDS, default 5, 2..300:
  // how long a partition's lease lasts without renewal. Undefined: a node alone.
  cluster: { nodeId: string; leaseSeconds: number } | undefined;
  allowUwsFallback: boolean; // LEDGER_ALLOW_UWS_FALLBACK: 1/true, 0/false/unset
  /** LEDGER_WORKER_OLD_GENERATION_FLOOR_MB was set: the floor is not fitted to a memory limit. */
  workerOldGenerationFloorSet: boolean;
  tracing: TracingConfig | undefined; // OpenTelemetry spans; undefined: off (and free)
  // LEDGER_TIMELINE_FILE: a path prefix; each thread appends its timeline (GCs, stalls, group
  // commits, snapshots) to <prefix>.<thread>.jsonl. Unset or empty: off (and free). Its
  // directory must exist and be writable. Resolved to an absolute path.
  timelineFile: string | undefined;
}

/**
 * On when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set (http:// or
 * https://; the exporter reads them, and OTEL_EXPORTER_OTLP_HEADERS, itself).
 */
export interface TracingConfig {
  serviceName: string; // OTEL_SERVICE_NAME, default 'inventory-ledger'
  // LEDGER_TRACES_SAMPLE_PERCENT, default 100, 0..100: requests without a sampled parent that
  // are traced (a traceparent's sampled flag decides for its own request).
  samplePercent: number;
}

export interface EventsConfig {
  streamName: string; // LEDGER_EVENTS_STREAM, default 'INVENTORY'
  subjectPrefix: string; // LEDGER_EVENTS_SUBJECT_PREFIX, default '' (e.g. 'staging.')
  duplicateWindowSeconds: number; // LEDGER_EVENTS_DUPLICATE_WINDOW_SECONDS, default 120, 1..86400
  maxAgeSeconds: number; // LEDGER_EVENTS_MAX_AGE_SECONDS, default 7 days, 0 (no limit)..365 days
}

const logLevels: readonly Config['logLevel'][] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

const secondsPerDay = 86_400;
// Reservations and retained results live in memory, so their lifetimes are capped at 30 days.
const thirtyDaysSeconds = 30 * secondsPerDay;
// More shard threads than this would spend more on cross-thread traffic than they gain.
const shardsMax = 64;

// A plain decimal integer, optionally negative so that "-1" is reported as out of range rather
// than as not a number. Number() alone would accept '', ' 3', '1e3', '0x10' and '1.0'.
const decimalInteger = /^-?[0-9]+$/;

function integer(
  env: Record<string, string | undefined>,
  name: string,
  defaultValue: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined) return defaultValue;
  const value = decimalInteger.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= min && value <= max)) {
    throw new ConfigError(
      name,
      `${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

type IntegerSettings = Pick<
  Config,
  | 'port'
  | 'shards'
  | 'partitions'
  | 'bodyBytesMax'
  | 'importBytesMax'
  | 'importLinesMax'
  | 'quantityMax'
  | 'ttlSecondsMin'
  | 'ttlSecondsMax'
  | 'ttlSecondsDefault'
  | 'cartLinesMax'
  | 'shardInflightMax'
  | 'shardQueueDelayMs'
  | 'shardShedFloor'
  | 'retainFinishedSeconds'
  | 'retainFinishedMax'
  | 'snapshotEveryRecords'
  | 'walBatchRecordsMax'
  | 'commitsInFlight'
  | 'shardYoungGenerationMb'
  | 'workerOldGenerationFloorMb'
  | 'expirySweepMs'
  | 'historyRetainDays'
  | 'walRetainHours'
  | 'rateLimitPerSecond'
  | 'rateLimitBurst'
  | 'metricsHotKeys'
  | 'journalClaimWaitSeconds'
>;

// The table of numeric settings: variable, default, min, max.
function integers(env: Record<string, string | undefined>): IntegerSettings {
  // The default follows the machine (its CPUs, no more than a container's CPU limit), but must
  // itself satisfy the range it is checked against.
  const shardsDefault = Math.min(usableCores(), shardsMax);
  return {
    port: integer(env, 'PORT', 8080, 0, 65_535),
    shards: integer(env, 'SHARDS', shardsDefault, 1, shardsMax),
    partitions: integer(env, 'LEDGER_PARTITIONS', 256, 1, 65_536),
    bodyBytesMax: integer(env, 'LEDGER_BODY_BYTES_MAX', 16_384, 256, 1_048_576),
    importBytesMax: integer(env, 'LEDGER_IMPORT_BYTES_MAX', 4_194_304, 256, importBytesCeiling),
    importLinesMax: integer(env, 'LEDGER_IMPORT_LINES_MAX', 10_000, 1, importLinesCeiling),
    quantityMax: integer(env, 'LEDGER_QUANTITY_MAX', 1000, 1, 1_000_000),
    ttlSecondsMin: integer(env, 'LEDGER_TTL_SECONDS_MIN', 60, 1, thirtyDaysSeconds),
    ttlSecondsMax: integer(env, 'LEDGER_TTL_SECONDS_MAX', 3600, 1, thirtyDaysSeconds),
    ttlSecondsDefault: integer(env, 'LEDGER_TTL_SECONDS_DEFAULT', 600, 1, thirtyDaysSeconds),
    cartLinesMax: integer(env, 'LEDGER_CART_LINES_MAX', 100, 1, 1000),
    shardInflightMax: integer(env, 'LEDGER_SHARD_INFLIGHT_MAX', 8192, 1, shardInflightCeiling),
    shardQueueDelayMs: integer(
      env,
      'LEDGER_SHARD_QUEUE_DELAY_MS',
      100,
      0,
      shardQueueDelayMsCeiling,
    ),
    shardShedFloor: integer(env, 'LEDGER_SHARD_SHED_FLOOR', 512, 1, shardInflightCeiling),
    retainFinishedSeconds: integer(
      env,
      'LEDGER_RETAIN_FINISHED_SECONDS',
      secondsPerDay,
      1,
      thirtyDaysSeconds,
    ),
    retainFinishedMax: integer(env, 'LEDGER_RETAIN_FINISHED_MAX', 1_000_000, 1, 100_000_000),
    snapshotEveryRecords: integer(env, 'LEDGER_SNAPSHOT_EVERY_RECORDS', 50_000, 1, 100_000_000),
    walBatchRecordsMax: integer(
      env,
      'LEDGER_WAL_BATCH_RECORDS_MAX',
      4096,
      1,
      walBatchRecordsCeiling,
    ),
    commitsInFlight: integer(env, 'LEDGER_COMMITS_IN_FLIGHT', 1, 1, commitsInFlightCeiling),
    shardYoungGenerationMb: integer(env, 'LEDGER_SHARD_YOUNG_GENERATION_MB', 0, 0, 1024),
    workerOldGenerationFloorMb: integer(env, 'LEDGER_WORKER_OLD_GENERATION_FLOOR_MB', 128, 0, 4096),
    expirySweepMs: integer(env, 'LEDGER_EXPIRY_SWEEP_MS', 100, 1, 60_000),
    historyRetainDays: integer(env, 'LEDGER_HISTORY_RETAIN_DAYS', 90, 1, 3650),
    walRetainHours: integer(env, 'LEDGER_WAL_RETAIN_HOURS', 168, 1, 87_600),
    rateLimitPerSecond: integer(env, 'LEDGER_RATE_LIMIT_PER_SECOND', 0, 0, 1_000_000),
    rateLimitBurst: integer(env, 'LEDGER_RATE_LIMIT_BURST', 0, 0, 10_000_000),
    metricsHotKeys: integer(env, 'LEDGER_METRICS_HOT_KEYS', 100, 0, 10_000),
    journalClaimWaitSeconds: integer(env, 'LEDGER_JOURNAL_CLAIM_WAIT_SECONDS', 30, 0, 600),
  };
}

// Checked after the single values, because a relation can fail even when both sides are
// defaults (LEDGER_TTL_SECONDS_MAX=300 alone leaves the default of 600 above it).
function checkTtlRelations(settings: IntegerSettings): void {
  const { ttlSecondsMin: min, ttlSecondsMax: max, ttlSecondsDefault: ttlDefault } = settings;
  if (max < min) {
    throw new ConfigError(
      'LEDGER_TTL_SECONDS_MAX',
      `LEDGER_TTL_SECONDS_MAX must be at least LEDGER_TTL_SECONDS_MIN (${min}), got ${max}`,
    );
  }
  if (ttlDefault < min || ttlDefault > max) {
    throw new ConfigError(
      'LEDGER_TTL_SECONDS_DEFAULT',
      `LEDGER_TTL_SECONDS_DEFAULT must be between LEDGER_TTL_SECONDS_MIN (${min}) and ` +
        `LEDGER_TTL_SECONDS_MAX (${max}), got ${ttlDefault}`,
    );
  }
}

// URLs may carry a password (postgres://user:secret@host), so their values are never echoed in
// an error message: it goes to stderr and from there into logs.
function optionalUrl(
  env: Record<string, string | undefined>,
  name: string,
  schemes: readonly string[] | undefined,
): string | undefined {
  const raw = env[name];
  // Empty counts as unset, so that `DATABASE_URL=` in a .env file or compose file turns it off.
  if (raw === undefined || raw === '') return undefined;
  if (schemes !== undefined && !schemes.some((scheme) => raw.startsWith(scheme))) {
    throw new ConfigError(
      name,
      `${name} must start with ${schemes.join(' or ')} (value not shown)`,
    );
  }
  if (!URL.canParse(raw)) {
    throw new ConfigError(name, `${name} must be a valid URL (value not shown)`);
  }
  return raw;
}

function tracingSettings(env: Record<string, string | undefined>): TracingConfig | undefined {
  const schemes = ['http://', 'https://'];
  const traces = optionalUrl(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', schemes);
  const any = optionalUrl(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', schemes);
  if (traces === undefined && any === undefined) return undefined;
  return {
    serviceName: nonEmpty(env, 'OTEL_SERVICE_NAME', 'inventory-ledger'),
    samplePercent: integer(env, 'LEDGER_TRACES_SAMPLE_PERCENT', 100, 0, 100),
  };
}

/** Checked against PORT: both listeners bind HOST, so one port cannot serve both. */
function healthPort(env: Record<string, string | undefined>, port: number): number | undefined {
  const name = 'LEDGER_HEALTH_PORT';
  // Empty counts as unset, so that `LEDGER_HEALTH_PORT=` in a compose file turns it off.
  if (env[name] === undefined || env[name] === '') return undefined;
  const value = integer(env, name, 0, 0, 65_535);
  if (value !== 0 && value === port) {
    throw new ConfigError(name, `${name} must differ from PORT (${port}), got ${value}`);
  }
  return value;
}

function nonEmpty(env: Record<string, string | undefined>, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined) return fallback;
  if (raw === '') throw new ConfigError(name, `${name} must not be empty, got ""`);
  return raw;
}

function oneOf<T extends string>(
  env: Record<string, string | undefined>,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const found = allowed.find((value) => value === raw);
  if (found === undefined) {
    throw new ConfigError(
      name,
      `${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`,
    );
  }
  return found;
}

// JetStream stream names: no spaces, dots, wildcards or path separators.
const streamNamePattern = /^[A-Za-z0-9_-]{1,64}$/;
// Whole subject tokens, each followed by a dot, so the prefix never merges with `inventory`.
const subjectPrefixPattern = /^([A-Za-z0-9_-]{1,64}\.){1,8}$/;

/** Where events go, checked even without NATS_URL so a typo shows up before it matters. */
function eventSettings(env: Record<string, string | undefined>): EventsConfig {
  const streamName = nonEmpty(env, 'LEDGER_EVENTS_STREAM', 'INVENTORY');
  if (!streamNamePattern.test(streamName)) {
    throw new ConfigError(
      'LEDGER_EVENTS_STREAM',
      `LEDGER_EVENTS_STREAM must be 1..64 of [A-Za-z0-9_-], got ${JSON.stringify(streamName)}`,
    );
  }
  const subjectPrefix = env['LEDGER_EVENTS_SUBJECT_PREFIX'] ?? '';
  if (subjectPrefix !== '' && !subjectPrefixPattern.test(subjectPrefix)) {
    throw new ConfigError(
      'LEDGER_EVENTS_SUBJECT_PREFIX',
      `LEDGER_EVENTS_SUBJECT_PREFIX must be subject tokens of [A-Za-z0-9_-] each ending in ` +
        `a dot (like "staging."), got ${JSON.stringify(subjectPrefix)}`,
    );
  }
  const duplicateWindowSeconds = integer(
    env,
    'LEDGER_EVENTS_DUPLICATE_WINDOW_SECONDS',
    120,
    1,
    secondsPerDay,
  );
  const maxAgeSeconds = integer(
    env,
    'LEDGER_EVENTS_MAX_AGE_SECONDS',
    7 * secondsPerDay,
    0,
    365 * secondsPerDay,
  );
  // JetStream refuses a duplicate window longer than the stream keeps messages.
  if (maxAgeSeconds !== 0 && maxAgeSeconds < duplicateWindowSeconds) {
    throw new ConfigError(
      'LEDGER_EVENTS_MAX_AGE_SECONDS',
      `LEDGER_EVENTS_MAX_AGE_SECONDS must be 0 or at least ` +
        `LEDGER_EVENTS_DUPLICATE_WINDOW_SECONDS (${duplicateWindowSeconds}), got ${maxAgeSeconds}`,
    );
  }
  return { streamName, subjectPrefix, duplicateWindowSeconds, maxAgeSeconds };
}

function flag(env: Record<string, string | undefined>, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new ConfigError(name, `${name} must be 1, true, 0 or false, got ${JSON.stringify(raw)}`);
}

function authMode(env: Record<string, string | undefined>): Config['authMode'] {
  const raw = env['LEDGER_AUTH'];
  if (raw === undefined) return 'unset';
  if (raw === 'none') return 'none';
  throw new ConfigError(
    'LEDGER_AUTH',
    `LEDGER_AUTH must be none or unset, got ${JSON.stringify(raw)}`,
  );
}

// HS256 secrets shorter than the hash output are guessable (RFC 7518 section 3.2).
const jwtSecretBytesMin = 32;

/** The JWT key settings; one of them turns auth on. Secrets are never echoed in messages. */
function jwtSettings(
  env: Record<string, string | undefined>,
): Pick<Config, 'jwtSecret' | 'jwtPublicKeyPath'> {
  const secret = env['LEDGER_JWT_SECRET'] === '' ? undefined : env['LEDGER_JWT_SECRET'];
  const keyPath = env['LEDGER_JWT_PUBLIC_KEY'] === '' ? undefined : env['LEDGER_JWT_PUBLIC_KEY'];
  if (secret !== undefined && Buffer.byteLength(secret) < jwtSecretBytesMin) {
    throw new ConfigError(
      'LEDGER_JWT_SECRET',
      `LEDGER_JWT_SECRET must be at least ${jwtSecretBytesMin} bytes`,
    );
  }
  if (secret !== undefined && keyPath !== undefined) {
    throw new ConfigError(
      'LEDGER_JWT_PUBLIC_KEY',
      'set either LEDGER_JWT_SECRET or LEDGER_JWT_PUBLIC_KEY, not both',
    );
  }
  if (keyPath !== undefined) {
    try {
      accessSync(keyPath, constants.R_OK);
    } catch {
      throw new ConfigError(
        'LEDGER_JWT_PUBLIC_KEY',
        `LEDGER_JWT_PUBLIC_KEY must be a readable file, got ${JSON.stringify(keyPath)}`,
      );
    }
  }
  return { jwtSecret: secret, jwtPublicKeyPath: keyPath && resolve(keyPath) };
}

function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  // The URL parser writes IPv6 in canonical form, so 0:0:0:0:0:0:0:1 is recognised as ::1.
  return isIPv6(host) && new URL(`http://[${host}]`).hostname === '[::1]';
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const host = nonEmpty(env, 'HOST', '127.0.0.1');
  const mode = authMode(env);
  const jwt = jwtSettings(env);
  const authOn = jwt.jwtSecret !== undefined || jwt.jwtPublicKeyPath !== undefined;
  if (!authOn && mode !== 'none' && !isLoopback(host)) {
    throw new ConfigError(
      'HOST',
      `HOST must be a loopback address while auth is off (set LEDGER_AUTH=none to serve ` +
        `without auth), got ${JSON.stringify(host)}`,
    );
  }
  const settings = integers(env);
  checkTtlRelations(settings);
  return {
    host,
    ...settings,
    healthPort: healthPort(env, settings.port),
    databaseUrl: optionalUrl(env, 'DATABASE_URL', ['postgres://', 'postgresql://']),
    dataDir: resolve(nonEmpty(env, 'LEDGER_DATA_DIR', './data')),
    natsUrl: optionalUrl(env, 'NATS_URL', undefined),
    events: eventSettings(env),
    logLevel: oneOf(env, 'LOG_LEVEL', logLevels, 'info'),
    authMode: mode,
    ...jwt,
    allowUwsFallback: flag(env, 'LEDGER_ALLOW_UWS_FALLBACK'),
    workerOldGenerationFloorSet: env.LEDGER_WORKER_OLD_GENERATION_FLOOR_MB !== undefined,
    tracing: tracingSettings(env),
    cluster: clusterSettings(env),
    timelineFile: timelineFile(env),
  };
}

/**
 * A path prefix whose directory must exist and be writable now: a timeline is asked for to
 * explain a run, and finding at its end that nothing could be written would waste the run.
 */
function timelineFile(env: Record<string, string | undefined>): string | undefined {
  const name = 'LEDGER_TIMELINE_FILE';
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const prefix = resolve(raw);
  if (raw.endsWith('/') || basename(prefix) === '') {
    throw new ConfigError(name, `${name} must name a file prefix, not a directory, got ${raw}`);
  }
  try {
    accessSync(dirname(prefix), constants.W_OK);
  } catch {
    throw new ConfigError(
      name,
      `${name} must be in a writable directory, got ${JSON.stringify(raw)}`,
    );
  }
  return prefix;
}

const nodeIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;

function clusterSettings(env: Record<string, string | undefined>): Config['cluster'] {
  if (!flag(env, 'LEDGER_CLUSTER')) return undefined;
  if (env['NATS_URL'] === undefined || env['NATS_URL'] === '') {
    throw new ConfigError(
      'LEDGER_CLUSTER',
      'LEDGER_CLUSTER needs NATS_URL (nodes forward over it)',
    );
  }
  const nodeId = env['LEDGER_NODE_ID'] ?? hostname();
  if (!nodeIdPattern.test(nodeId)) {
    throw new ConfigError(
      'LEDGER_NODE_ID',
      `LEDGER_NODE_ID must be 1..64 characters of [A-Za-z0-9._:-], got ${JSON.stringify(nodeId)}`,
    );
  }
  return { nodeId, leaseSeconds: integer(env, 'LEDGER_LEASE_SECONDS', 5, 2, 300) };
}

/**
 * The retention each partition keeps (the shape of the actors' RetentionPolicy):
 * LEDGER_RETAIN_FINISHED_MAX is for the whole node, so it is spread over the partitions. The
 * ledger and `ledger migrate-partitions` must agree on it, so both take it from here.
 */
export function retentionOf(
  config: Pick<Config, 'retainFinishedSeconds' | 'retainFinishedMax'> &
    Partial<Pick<Config, 'ttlSecondsMax'>>,
  partitions: number,
): RetentionPolicy {
  return {
    retainFinishedMs: config.retainFinishedSeconds * 1000,
    retainFinishedMax: Math.max(1, Math.ceil(config.retainFinishedMax / partitions)),
    onHandMax,
    // A hold lives at most 3 x the TTL maximum from its created_at (API.md, extending a hold).
    holdLifetimeMaxMs: holdLifetimeFactor * (config.ttlSecondsMax ?? 3600) * 1000,
    buyersPerProductMax,
    transfersInTransitMax,
    lotsPerKeyMax,
  };
}

/** A hold lives at most this many times the largest TTL (API.md, "Extending a hold"). */
export const holdLifetimeFactor = 3;

/**
 * Prints `config error: <message>` to stderr and exits with code 2 on ConfigError; rethrows
 * anything else.
 */
export function loadConfigOrExit(env: Record<string, string | undefined>): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`config error: ${error.message}\n`);
    // Exit code 2 is the contract's "bad configuration" (API.md, "Running").
    process.exit(2);
  }
}
