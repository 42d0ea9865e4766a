// Two ways the HTTP thread's request objects outlived their request and were promoted to the old
// generation by the scavenges, each beside what replaced it, in a child process of its own under
// V8's `--trace-gc-nvp` (alternated, `--rounds` rounds of each case):
//
// - The table of reply callbacks (`--live` waiting at a time, 64 as the bench's connections;
//   each added, then taken `--live` adds later; every callback holds about 1.5 KB of young
//   objects, as a dispatch's closure holds its exchange and command). The table is filled, then
//   aged by three scavenges before the churn, so that its backing store is old, as a running
//   ledger's is.
//   - `callbacks-map`: a Map from id to callback, as the shard channel kept them;
//   - `callbacks-slots`: PendingSlots (src/pending-slots.ts), as it keeps them now.
// - A hot key's pending holds, the same churn keyed by hold id (strings from a fixed pool of
//   4,096, so that no key is made during the loop), `--live` pending at a time:
//   - `holds-map`: a Map from id to hold, as the split map's parts were;
//   - `holds-table`: a StringTable (src/actors/string-table.ts), as they are now.
// - `partition-lifecycle`: the actors' own work on a hot key, `PartitionState.apply` of a reserve
//   and of a confirm of the hold made `--live` reserves before (each request's own ids and key),
//   with the ledger's default retention: what the hot shard promotes of its own, less the
//   shard's plumbing (batches, the journal, replies). With `--keys N` the requests go to N keys
//   in turn (each stocked first): with N near `--live`, each key holds a hold or none at a time,
//   and its tables are made and dropped again as it comes and goes (many SKUs, few holds each).
//   With `--partitions P` the keys are spread over P partitions (key i in partition i mod P), as
//   a shard holds them (a ledger's 256 partitions over 2 shards: 128 each); each partition keeps
//   its own quiet keys' tables (src/actors/quiet-keys.ts).
// - The routed reserve (a command as the validator makes it, given its reservation id, in
//   batches of 32 as the turn batch sends them):
//   - `routed-spread`: `{ ...command, reservationId }`, as the router made it;
//   - `routed-assign`: `Object.assign({}, command, { reservationId })`, as it makes it now.
//
// Each case does `--requests` of its step and prints the loop's time; the table adds its
// collections from the trace.
//
//   npx tsx bench/micro/promotion-sources.ts [--requests 2000000] [--live 64] [--rounds 3]
//     [--keys 1] [--partitions 1] [--cases callbacks-map,...]   (default: all)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PartitionState, type Command, type ReserveCommand } from '../../src/actors/index.js';
import { StringTable } from '../../src/actors/string-table.js';
import { PendingSlots } from '../../src/pending-slots.js';
import { integerFlag } from '../lib/args.js';
import { GcTrace } from '../lib/gc-trace.js';
import { benchHoldId } from '../lib/hold-ids.js';
import { stockAdjust } from '../lib/stock-adjust.js';
import { aDayRetained } from '../lib/retention.js';

const cases = [
  'callbacks-map',
  'callbacks-slots',
  'holds-map',
  'holds-table',
  'routed-spread',
  'routed-assign',
  'partition-lifecycle',
] as const;
type Case = (typeof cases)[number];

const { values } = parseArgs({
  options: {
    requests: { type: 'string' },
    live: { type: 'string' },
    keys: { type: 'string' },
    partitions: { type: 'string' },
    rounds: { type: 'string' },
    cases: { type: 'string', default: cases.join(',') },
    child: { type: 'string' },
  },
});
const count = (
  name: 'requests' | 'live' | 'keys' | 'partitions' | 'rounds',
  defaultValue: number,
) => integerFlag(name, { defaultValue, min: 1, max: 100_000_000 }, values[name]);
const requests = count('requests', 2_000_000);
const live = count('live', 64);
const keys = count('keys', 1);
const partitions = count('partitions', 1);
/** The stock keys' products, made before any loop: `sku-hot` alone by default. */
const skus = Array.from({ length: keys }, (_, key) => (keys === 1 ? 'sku-hot' : `sku-${key}`));

type Callback = () => number;

/**
 * A request's young objects, reachable only from its callback. Its strings are fixed: a number
 * made text is kept in V8's number-string cache, an old table, and would be promoted too.
 */
function callback(index: number): Callback {
  const exchange = {
    traceId: 'trace',
    startedMs: index,
    command: reserveCommand(-1),
    parts: Array.from({ length: 24 }, (_, part) => ({ part })),
  };
  return () => exchange.parts.length + exchange.startedMs;
}

interface Table {
  add(value: Callback): number;
  take(id: number): Callback | undefined;
}

function mapTable(): Table {
  const map = new Map<number, Callback>();
  let next = 0;
  return {
    add(value) {
      next += 1;
      map.set(next, value);
      return next;
    },
    take(id) {
      const value = map.get(id);
      map.delete(id);
      return value;
    },
  };
}

/** Hold ids: made before the loop, as a running shard's were made by requests long gone. */
const holdIds = Array.from({ length: 4096 }, (_, index) => `r-0007-${index}`);

/** A table keyed by hold id: each add takes the pool's next id (never one still waiting). */
function holdTable(map: {
  set(key: string, value: Callback): unknown;
  get(key: string): Callback | undefined;
  delete(key: string): boolean;
}): Table {
  let next = 0;
  return {
    add(value) {
      next = (next + 1) % holdIds.length;
      map.set(holdIds[next] as string, value);
      return next;
    },
    take(id) {
      const key = holdIds[id] as string;
      const value = map.get(key);
      map.delete(key);
      return value;
    },
  };
}

function churnCallbacks(table: Table, minorGc: () => void): number {
  // The ids waiting, a ring: the oldest is taken when a new one is added in its place.
  const waiting = new Int32Array(live);
  for (let index = 0; index < live; index += 1) waiting[index] = table.add(callback(index));
  for (let scavenge = 0; scavenge < 3; scavenge += 1) minorGc();
  let checksum = 0;
  for (let index = live; index < requests + live; index += 1) {
    const ring = index % live;
    checksum += table.take(waiting[ring] ?? 0)?.() ?? 0;
    waiting[ring] = table.add(callback(index));
  }
  return checksum;
}

/** A reserve as the validator makes it: the router adds its reservation id. */
function reserveCommand(index: number): Omit<ReserveCommand, 'reservationId'> {
  return {
    kind: 'reserve',
    productId: skus[index < 0 ? 0 : index % keys] as string,
    warehouseId: 'wh-1',
    quantity: 1,
    idempotencyKey: `key-${index}`,
    ttlSeconds: 600,
    requesterId: 'bench',
    traceId: `trace-${index}`,
  };
}

function routeReserves(spread: boolean): number {
  let checksum = 0;
  let batch: object[] = [];
  for (let index = 0; index < requests; index += 1) {
    const command = reserveCommand(index);
    const reservationId = `r-${index}`;
    const routed = spread
      ? { ...command, reservationId }
      : Object.assign({}, command, { reservationId });
    batch.push({ id: index, partition: 7, command: routed });
    if (batch.length === 32) {
      checksum += batch.length;
      batch = [];
    }
  }
  return checksum;
}

/** 1 for a command applied; a refusal ends the bench (it would time less than it claims). */
function applied(state: PartitionState, command: Command, nowMs: number): number {
  const { outcome } = state.apply(command, nowMs);
  if (!outcome.ok) throw new Error(`${command.kind} refused: ${outcome.code}`);
  return 1;
}

/** A hot key's holds, each confirmed `live` reserves after it was made. */
function partitionLifecycle(): number {
  const retention = aDayRetained;
  const states = Array.from({ length: partitions }, (_, at) => new PartitionState(at, retention));
  /** Key i's partition, as the request to it is routed. */
  const stateOf = (index: number): PartitionState =>
    states[(index % keys) % partitions] as PartitionState;
  let nowMs = 1_763_900_000_000;
  for (const [key, sku] of skus.entries()) {
    const restock = stateOf(key).apply(stockAdjust(sku, 'wh-1', 1_000_000_000), nowMs);
    if (!restock.outcome.ok) throw new Error(`restock: ${restock.outcome.code}`);
  }
  const waiting: string[] = new Array<string>(live).fill('');
  let checksum = 0;
  for (let index = 0; index < requests; index += 1) {
    nowMs += 1;
    const ring = index % live;
    const pending = waiting[ring] as string;
    if (pending !== '') {
      // The hold made `live` requests ago, on that request's key.
      const confirm = { kind: 'confirm', reservationId: pending, traceId: '' } as const;
      checksum += applied(stateOf(index - live), confirm, nowMs);
    }
    const reservationId = benchHoldId(index);
    const reserve = Object.assign(reserveCommand(index), { reservationId });
    checksum += applied(stateOf(index), reserve, nowMs);
    waiting[ring] = reservationId;
  }
  return checksum;
}

/** The child: runs its case; prints the loop's time as one JSON line. */
function child(which: Case): void {
  const gc = (globalThis as { gc?: (options: { type: 'minor' }) => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  const minorGc = (): void => gc({ type: 'minor' });
  const startedMs = performance.now();
  const checksum =
    which === 'callbacks-map'
      ? churnCallbacks(mapTable(), minorGc)
      : which === 'callbacks-slots'
        ? churnCallbacks(new PendingSlots<Callback>(), minorGc)
        : which === 'holds-map'
          ? churnCallbacks(holdTable(new Map()), minorGc)
          : which === 'holds-table'
            ? churnCallbacks(holdTable(new StringTable<Callback>()), minorGc)
            : which === 'partition-lifecycle'
              ? partitionLifecycle()
              : routeReserves(which === 'routed-spread');
  const loopMs = performance.now() - startedMs;
  process.stdout.write(`${JSON.stringify({ loopMs, checksum })}\n`);
}

interface Round {
  readonly loopMs: number;
  readonly scavenges: number;
  readonly scavengeMs: number;
  readonly scavengeMaxMs: number;
  readonly fullCollections: number;
  readonly promotedMb: number;
}

function run(which: Case): Round {
  const self = fileURLToPath(import.meta.url);
  const argv = ['--child', which, '--requests', String(requests), '--live', String(live)];
  argv.push('--keys', String(keys), '--partitions', String(partitions));
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--expose-gc', '--trace-gc-nvp', self, ...argv],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  if (result.status !== 0) throw new Error(`${which} failed: ${result.stderr}`);
  const trace = new GcTrace();
  let loopMs = Number.NaN;
  for (const line of result.stdout.split('\n')) {
    if (line.startsWith('{')) loopMs = (JSON.parse(line) as { loopMs: number }).loopMs;
    else trace.line(line, 0);
  }
  // One isolate; its whole life (module loading and the aging scavenges too).
  const [main] = trace.summary(0, 0);
  if (main === undefined) throw new Error(`${which} printed no collections`);
  return {
    loopMs,
    scavenges: main.scavenges.count,
    scavengeMs: main.scavenges.pauseTotalMs,
    scavengeMaxMs: main.scavenges.pauseMaxMs,
    fullCollections: main.fullCollections.count,
    promotedMb: main.promotedMb,
  };
}

if (values.child !== undefined) {
  if (!(cases as readonly string[]).includes(values.child)) throw new Error('unknown case');
  child(values.child as Case);
} else {
  const rounds = count('rounds', 3);
  const chosen = values.cases.split(',').filter((each) => each !== '');
  const unknown = chosen.filter((each) => !(cases as readonly string[]).includes(each));
  if (unknown.length > 0) throw new Error(`unknown case(s): ${unknown.join(', ')}`);
  console.log(`${requests} requests (${live} callbacks waiting at a time), ${rounds} rounds\n`);
  console.log(
    '| case | round | loop ms | scavenges | scavenge ms total / longest | full GCs | MB promoted |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (let round = 1; round <= rounds; round += 1) {
    const these = cases.filter((each) => chosen.includes(each));
    for (const which of round % 2 === 1 ? these : [...these].reverse()) {
      const r = run(which);
      console.log(
        `| ${which} | ${round} | ${r.loopMs.toFixed(0)} | ${r.scavenges} | ` +
          `${r.scavengeMs.toFixed(0)} / ${r.scavengeMaxMs.toFixed(1)} | ${r.fullCollections} | ` +
          `${r.promotedMb.toFixed(1)} |`,
      );
    }
  }
}
