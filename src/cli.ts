#!/usr/bin/env node
// The operator CLI: `ledger verify` rebuilds every balance from the journal and compares it with
// the running node; `ledger stock` reads one key; `ledger history` its movements, newest first;
// `ledger snapshot` forces snapshots; `ledger migrate-partitions` moves a hash v1 journal to hash
// v2, offline; `ledger history-backfill` writes the movements an older version did not, offline;
// `ledger openapi` prints the OpenAPI document a ledger with this environment serves
// (docs/openapi.json is its default).
// Exit codes: 0 ok, 1 failure (unreachable, refused), 2 usage, 3 not found, 4 drift found.
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { StockActor } from './actors/index.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { openApiDocument } from './http/openapi.js';
import { RequestValidator } from './http/validate.js';
import { adjustDeltaMax, onHandMax } from './limits.js';
import { backfillHistory, migratePartitions } from './operations/index.js';
import { packageVersion } from './package-version.js';
import { JournalStore } from './persistence/index.js';
import { recoverPartitions } from './shards/index.js';

const usage = `usage: ledger <command> [options]
  verify    [--url URL] [--database-url URL]   rebuild balances from the journal, compare with the node
  stock     <product_id> <warehouse_id> [--url URL]
  history   <product_id> <warehouse_id> [--limit N] [--before CURSOR] [--url URL]
            a key's movements (every change), newest first, one JSON line each; a last line
            {"next": CURSOR} when older ones follow (pass it as --before)
  snapshot  [--url URL]                        snapshot every changed partition now (admin)
  migrate-partitions [--database-url URL] [--discard-unpublished-events]
            move a journal from partition hash v1 (by stock key) to v2 (by product). Offline: stop
            every ledger on the journal first (refused while one runs). One transaction, checked
            before it commits: a crash or an error before the commit changes nothing, so it can
            simply be run again; on a v2 journal it does nothing. Run it with the ledger's
            LEDGER_RETAIN_FINISHED_* settings. Refused while published events lag the journal,
            unless --discard-unpublished-events (those events are then never published).
  history-backfill [--database-url URL]
            write the movements of changes journaled by a version before movement history, as
            far back as the WAL and LEDGER_HISTORY_RETAIN_DAYS reach. Offline (refused while a
            ledger runs), one transaction; run again, it finds nothing to do
  openapi                                      print the OpenAPI document this environment's ledger serves
options: --url (default $LEDGER_URL or http://127.0.0.1:8080), --database-url (default $DATABASE_URL)
a bearer token is taken from $LEDGER_TOKEN
exit codes: 0 ok, 1 failed or refused, 2 usage or configuration, 3 not found, 4 drift found`;

class UsageError extends Error {}

interface Options {
  readonly url: string;
  readonly databaseUrl: string | undefined;
  readonly discardUnpublishedEvents: boolean;
  readonly limit: string | undefined;
  readonly before: string | undefined;
  readonly positionals: string[];
}

function headers(): Record<string, string> {
  const token = process.env.LEDGER_TOKEN;
  return token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` };
}

async function call(options: Options, method: string, path: string): Promise<[number, string]> {
  const response = await fetch(`${options.url}${path}`, { method, headers: headers() });
  return [response.status, await response.text()];
}

async function stock(options: Options): Promise<number> {
  const [product, warehouse] = options.positionals;
  if (product === undefined || warehouse === undefined) throw new UsageError('stock needs 2 ids');
  const path = `/v1/stock/${encodeURIComponent(product)}/${encodeURIComponent(warehouse)}`;
  const [status, body] = await call(options, 'GET', path);
  process.stdout.write(`${body}\n`);
  return status === 200 ? 0 : status === 404 ? 3 : 1;
}

/** A page of a key's movements from the node, which reads them from the journal. */
async function history(options: Options): Promise<number> {
  const [product, warehouse] = options.positionals;
  if (product === undefined || warehouse === undefined) {
    throw new UsageError('history needs 2 ids');
  }
  const query = new URLSearchParams();
  if (options.limit !== undefined) query.set('limit', options.limit);
  if (options.before !== undefined) query.set('before', options.before);
  const key = `${encodeURIComponent(product)}/${encodeURIComponent(warehouse)}`;
  const search = query.size === 0 ? '' : `?${query.toString()}`;
  const [status, body] = await call(options, 'GET', `/v1/stock/${key}/movements${search}`);
  if (status !== 200) {
    process.stderr.write(`${body}\n`);
    return status === 404 ? 3 : status === 422 ? 2 : 1;
  }
  const page = JSON.parse(body) as { movements: unknown[]; next: string | null };
  for (const movement of page.movements) process.stdout.write(`${JSON.stringify(movement)}\n`);
  if (page.next !== null) process.stdout.write(`${JSON.stringify({ next: page.next })}\n`);
  return 0;
}

async function snapshot(options: Options): Promise<number> {
  const [status, body] = await call(options, 'POST', '/v1/admin/snapshot');
  process.stdout.write(`${body}\n`);
  return status === 200 ? 0 : 1;
}

/** Every stock key as the journal alone says it is: latest snapshot + WAL tail, per partition. */
async function rebuild(databaseUrl: string): Promise<Map<string, StockActor>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const store = new JournalStore(client);
  try {
    const meta = await client.query<{ partitions: number }>('SELECT partitions FROM ledger_meta');
    const partitions = Array.from({ length: Number(meta.rows[0]?.partitions ?? 0) }, (_, i) => i);
    // Retention does not change balances, so any policy rebuilds the same numbers.
    const retention = { retainFinishedMs: 1, retainFinishedMax: 1, onHandMax };
    const recovered = await recoverPartitions(store, partitions, { retention });
    const actors = new Map<string, StockActor>();
    for (const { state } of recovered.values()) {
      for (const actor of state.actors.values())
        actors.set(`${actor.productId}/${actor.warehouseId}`, actor);
    }
    return actors;
  } finally {
    await store.close();
  }
}

interface Drift {
  readonly key: string;
  readonly journal: unknown;
  readonly node: unknown;
}

async function compare(options: Options, actors: Map<string, StockActor>): Promise<Drift[]> {
  const drift: Drift[] = [];
  for (const [key, actor] of actors) {
    const path = `/v1/stock/${encodeURIComponent(actor.productId)}/${encodeURIComponent(actor.warehouseId)}`;
    const [status, body] = await call(options, 'GET', path);
    const node = status === 200 ? (JSON.parse(body) as Record<string, number>) : { status };
    const journal = { on_hand: actor.onHand, reserved: actor.reserved, version: actor.version };
    const same =
      node.on_hand === journal.on_hand &&
      node.reserved === journal.reserved &&
      node.version === journal.version;
    if (!same) drift.push({ key, journal, node });
  }
  return drift;
}

/**
 * Compares twice when needed: a key that changed between the journal read and the node read
 * (live traffic) is checked again against a fresh rebuild before it counts as drift.
 */
async function verify(options: Options): Promise<number> {
  if (options.databaseUrl === undefined)
    throw new UsageError('verify needs --database-url or $DATABASE_URL');
  const actors = await rebuild(options.databaseUrl);
  let drift = await compare(options, actors);
  if (drift.length > 0) {
    const again = await rebuild(options.databaseUrl);
    const keys = new Set(drift.map((entry) => entry.key));
    drift = await compare(options, new Map([...again].filter(([key]) => keys.has(key))));
  }
  for (const entry of drift) process.stdout.write(`${JSON.stringify({ drift: entry })}\n`);
  process.stdout.write(`${JSON.stringify({ keys_checked: actors.size, drift: drift.length })}\n`);
  return drift.length === 0 ? 0 : 4;
}

/** The document GET /openapi.json answers, for the ledger's settings in this environment. */
function openapi(): number {
  const config = configOf(process.env);
  if (config === undefined) return 2;
  const validator = new RequestValidator({ ...config, adjustDeltaMax });
  const document = openApiDocument(validator.specs, packageVersion());
  process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  return 0;
}

/** The ledger's own environment settings, checked as the ledger checks them; undefined: refused. */
function configOf(env: Record<string, string | undefined>): Config | undefined {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`config error: ${error.message}\n`);
    return undefined;
  }
}

/** Prints the summary (stdout, JSON) or why nothing was done; progress goes to stderr. */
async function migrate(options: Options): Promise<number> {
  if (options.databaseUrl === undefined)
    throw new UsageError('migrate-partitions needs --database-url or $DATABASE_URL');
  const config = configOf(process.env);
  if (config === undefined) return 2;
  const result = await migratePartitions({
    databaseUrl: options.databaseUrl,
    discardUnpublishedEvents: options.discardUnpublishedEvents,
    retention: config,
    log: (message) => process.stderr.write(`ledger: ${message}\n`),
  });
  if (result.kind === 'refused') {
    process.stderr.write(`ledger: ${result.message}\n`);
    return 1;
  }
  const line =
    result.kind === 'migrated' ? result.summary : { migrated: false, message: result.message };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  return 0;
}

async function historyBackfill(options: Options): Promise<number> {
  if (options.databaseUrl === undefined)
    throw new UsageError('history-backfill needs --database-url or $DATABASE_URL');
  const config = configOf(process.env);
  if (config === undefined) return 2;
  const result = await backfillHistory({
    databaseUrl: options.databaseUrl,
    config,
    nowMs: Date.now(),
    log: (message) => process.stderr.write(`ledger: ${message}\n`),
  });
  if (result.kind === 'refused') {
    process.stderr.write(`ledger: ${result.message}\n`);
    return 1;
  }
  process.stdout.write(`${JSON.stringify(result.summary)}\n`);
  return 0;
}

function parse(argv: string[]): [string, Options] {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      'database-url': { type: 'string' },
      'discard-unpublished-events': { type: 'boolean' },
      limit: { type: 'string' },
      before: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help === true || command === undefined) throw new UsageError('');
  const url = (values.url ?? process.env.LEDGER_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  const databaseUrl = values['database-url'] ?? process.env.DATABASE_URL;
  const discardUnpublishedEvents = values['discard-unpublished-events'] === true;
  const { limit, before } = values;
  return [
    command,
    { url, databaseUrl, discardUnpublishedEvents, limit, before, positionals: rest },
  ];
}

async function run(argv: string[]): Promise<number> {
  const [command, options] = parse(argv);
  switch (command) {
    case 'verify':
      return verify(options);
    case 'stock':
      return stock(options);
    case 'history':
      return history(options);
    case 'snapshot':
      return snapshot(options);
    case 'migrate-partitions':
      return migrate(options);
    case 'history-backfill':
      return historyBackfill(options);
    case 'openapi':
      return openapi();
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

/** Exits once what was written has left: a pipe takes stdout asynchronously (a long document). */
function exitAfterOutput(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

run(process.argv.slice(2)).then(
  (code) => exitAfterOutput(code),
  (error: unknown) => {
    const usageProblem =
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (usageProblem) {
      const message =
        error instanceof Error && error.message !== '' ? `ledger: ${error.message}\n` : '';
      process.stderr.write(`${message}${usage}\n`);
      exitAfterOutput(2);
      return;
    }
    process.stderr.write(`ledger: ${error instanceof Error ? error.message : String(error)}\n`);
    exitAfterOutput(1);
  },
);
