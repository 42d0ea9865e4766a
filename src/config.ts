// Configuration from the environment (API.md, "Running"), validated once at start so that a bad
// value stops the process with a message naming the variable instead of failing later, deep in a
// shard or the journal, with an error that no longer says where the value came from.
import { isIPv4, isIPv6 } from 'node:net';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';

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
  databaseUrl: string | undefined; // DATABASE_URL; must start with postgres:// or postgresql://
  dataDir: string; // LEDGER_DATA_DIR, default './data', resolved to an absolute path
  natsUrl: string | undefined; // NATS_URL; only checked to parse as a URL
  shards: number; // SHARDS, default os.availableParallelism() (at least 1), 1..64
  partitions: number; // LEDGER_PARTITIONS, default 256, 1..65536; used when a journal is created
  bodyBytesMax: number; // LEDGER_BODY_BYTES_MAX, default 16384, 256..1048576
  quantityMax: number; // LEDGER_QUANTITY_MAX, default 1000, 1..1_000_000
  ttlSecondsMin: number; // LEDGER_TTL_SECONDS_MIN, default 60, >= 1
  ttlSecondsMax: number; // LEDGER_TTL_SECONDS_MAX, default 3600, >= min, <= 30 days
  ttlSecondsDefault: number; // LEDGER_TTL_SECONDS_DEFAULT, default 600, within [min, max]
  shardInflightMax: number; // LEDGER_SHARD_INFLIGHT_MAX, default 8192, 1..1_000_000
  // LEDGER_RETAIN_FINISHED_SECONDS, default 86400, 1..30 days: how long finished (confirmed,
  // released, expired) reservations and idempotency keys stay answerable.
  retainFinishedSeconds: number;
  retainFinishedMax: number; // LEDGER_RETAIN_FINISHED_MAX, default 1_000_000, 1..100_000_000 (node)
  // LEDGER_SNAPSHOT_EVERY_RECORDS, default 50_000, 1..100_000_000 (per partition)
  snapshotEveryRecords: number;
  walBatchRecordsMax: number; // LEDGER_WAL_BATCH_RECORDS_MAX, default 4096, 1..65536
  expirySweepMs: number; // LEDGER_EXPIRY_SWEEP_MS, default 100, 1..60000
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; // LOG_LEVEL, 'info'
  authMode: 'none' | 'unset'; // LEDGER_AUTH: 'none' (explicitly off) or unset
  allowUwsFallback: boolean; // LEDGER_ALLOW_UWS_FALLBACK: 1/true, 0/false/unset
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
  | 'quantityMax'
  | 'ttlSecondsMin'
  | 'ttlSecondsMax'
  | 'ttlSecondsDefault'
  | 'shardInflightMax'
  | 'retainFinishedSeconds'
  | 'retainFinishedMax'
  | 'snapshotEveryRecords'
  | 'walBatchRecordsMax'
  | 'expirySweepMs'
>;

// The table of numeric settings: variable, default, min, max.
function integers(env: Record<string, string | undefined>): IntegerSettings {
  // The default follows the machine, but must itself satisfy the range it is checked against.
  const shardsDefault = Math.min(Math.max(availableParallelism(), 1), shardsMax);
  return {
    port: integer(env, 'PORT', 8080, 0, 65_535),
    shards: integer(env, 'SHARDS', shardsDefault, 1, shardsMax),
    partitions: integer(env, 'LEDGER_PARTITIONS', 256, 1, 65_536),
    bodyBytesMax: integer(env, 'LEDGER_BODY_BYTES_MAX', 16_384, 256, 1_048_576),
    quantityMax: integer(env, 'LEDGER_QUANTITY_MAX', 1000, 1, 1_000_000),
    ttlSecondsMin: integer(env, 'LEDGER_TTL_SECONDS_MIN', 60, 1, thirtyDaysSeconds),
    ttlSecondsMax: integer(env, 'LEDGER_TTL_SECONDS_MAX', 3600, 1, thirtyDaysSeconds),
    ttlSecondsDefault: integer(env, 'LEDGER_TTL_SECONDS_DEFAULT', 600, 1, thirtyDaysSeconds),
    shardInflightMax: integer(env, 'LEDGER_SHARD_INFLIGHT_MAX', 8192, 1, 1_000_000),
    retainFinishedSeconds: integer(
      env,
      'LEDGER_RETAIN_FINISHED_SECONDS',
      secondsPerDay,
      1,
      thirtyDaysSeconds,
    ),
    retainFinishedMax: integer(env, 'LEDGER_RETAIN_FINISHED_MAX', 1_000_000, 1, 100_000_000),
    snapshotEveryRecords: integer(env, 'LEDGER_SNAPSHOT_EVERY_RECORDS', 50_000, 1, 100_000_000),
    walBatchRecordsMax: integer(env, 'LEDGER_WAL_BATCH_RECORDS_MAX', 4096, 1, 65_536),
    expirySweepMs: integer(env, 'LEDGER_EXPIRY_SWEEP_MS', 100, 1, 60_000),
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

/**
 * JWT auth is not built yet. An operator who sets a key expects every request to be checked;
 * serving without auth while a key is configured would be a silent hole, so start-up stops.
 */
function refuseUnbuiltAuth(env: Record<string, string | undefined>): void {
  for (const name of ['LEDGER_JWT_SECRET', 'LEDGER_JWT_PUBLIC_KEY']) {
    if (env[name] !== undefined && env[name] !== '') {
      throw new ConfigError(
        name,
        `${name} is set, but JWT auth is not available in this version; unset it ` +
          `(and keep HOST on loopback) rather than run without the auth you asked for`,
      );
    }
  }
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
  refuseUnbuiltAuth(env);
  // Auth is always off until JWT auth exists; then a configured LEDGER_JWT_SECRET lifts this.
  if (mode !== 'none' && !isLoopback(host)) {
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
    databaseUrl: optionalUrl(env, 'DATABASE_URL', ['postgres://', 'postgresql://']),
    dataDir: resolve(nonEmpty(env, 'LEDGER_DATA_DIR', './data')),
    natsUrl: optionalUrl(env, 'NATS_URL', undefined),
    logLevel: oneOf(env, 'LOG_LEVEL', logLevels, 'info'),
    authMode: mode,
    allowUwsFallback: flag(env, 'LEDGER_ALLOW_UWS_FALLBACK'),
  };
}

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
