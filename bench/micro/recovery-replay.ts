// Recovery replay speed: how many journal records one shard thread decodes and replays per second
// (issue 4's target: >= 1,000,000). It makes a realistic journal by driving real PartitionStates
// with a mix of adjusts, reserves, confirms, releases and expiries on 10,000 keys over 256
// partitions, keeps each record encoded (a Buffer of its own, as pg hands rows over), then times
// decodeRecord + PartitionState.replay of all of them, partition by partition as recovery does,
// into fresh states, and checks they end equal to the live ones. Decoding alone and replaying
// pre-decoded records are timed too, to show which half costs what. No Postgres involved.
//
//   npx tsx bench/micro/recovery-replay.ts [--records 1000000] [--keys 10000] [--rounds 3]
import { parseArgs } from 'node:util';
import { PartitionState, type JournalRecord } from '../../src/actors/index.js';
import { decodeRecord, encodeRecord } from '../../src/persistence/record-codec.js';
import { partitionOf } from '../../src/router/partition-hash.js';
import { mintReservationId } from '../../src/router/reservation-id.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const partitions = 256;
const targetRecordsPerSecond = 1_000_000;
const retention = { retainFinishedMs: 86_400_000, retainFinishedMax: 1_000_000, onHandMax: 1e12 };
/** Hold lifetime: with 1 ms between records, holds finished late in the FIFO are due. */
const ttlSeconds = 60;

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    keys: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
  },
});
const recordCount = Number(values.records);
const keyCount = Number(values.keys);
const rounds = Number(values.rounds);

interface Journal {
  readonly live: PartitionState[];
  /** Encoded records per partition, in journal order. */
  readonly payloads: Buffer[][];
  readonly types: Map<string, number>;
}

/**
 * One partition's records back to back, cut into a Buffer per row while replaying, as pg does
 * with each page it reads: a million separate Buffers held at once would only burden the GC.
 */
interface PackedPartition {
  readonly bytes: Buffer;
  /** End offset of each record in `bytes`. */
  readonly ends: Int32Array;
}

function pack(rows: readonly Buffer[]): PackedPartition {
  const ends = new Int32Array(rows.length);
  let end = 0;
  rows.forEach((row, index) => {
    end += row.length;
    ends[index] = end;
  });
  return { bytes: Buffer.concat(rows), ends };
}

function* rowsOf(packed: PackedPartition): Generator<Buffer> {
  let start = 0;
  for (const end of packed.ends) {
    yield packed.bytes.subarray(start, end);
    start = end;
  }
}

/** What replay must rebuild for each stock key: on_hand, reserved, version, retained count. */
function summary(states: readonly PartitionState[]): Map<string, string> {
  const result = new Map<string, string>();
  for (const state of states) {
    for (const [key, actor] of state.actors) {
      const retained = actor.reservations?.size ?? 0;
      result.set(key, `${actor.onHand}/${actor.reserved}/${actor.version}/${retained}`);
    }
  }
  return result;
}

/** A small deterministic generator (mulberry32), so every run replays the same journal. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeJournal(): Journal {
  const live = Array.from({ length: partitions }, (_, p) => new PartitionState(p, retention));
  const payloads = live.map((): Buffer[] => []);
  const pending = live.map((): string[] => []);
  const pendingHead = new Array<number>(partitions).fill(0);
  const types = new Map<string, number>();
  const keys = Array.from({ length: keyCount }, (_, index) => {
    const productId = `sku-${String(index).padStart(6, '0')}`;
    return {
      productId,
      warehouseId: 'wh-1',
      partition: partitionOf(productId, 'wh-1', partitions),
    };
  });
  const next = random(42);
  let nowMs = 1_763_900_000_000;
  let sequence = 0;
  const keep = (partition: number, record: JournalRecord | undefined): void => {
    if (record === undefined) return;
    (payloads[partition] as Buffer[]).push(Buffer.from(encodeRecord(record)));
    types.set(record.type, (types.get(record.type) ?? 0) + 1);
    sequence += 1;
  };
  const adjust = (key: (typeof keys)[number], delta: number, keyed: boolean): void => {
    const state = live[key.partition] as PartitionState;
    const idempotencyKey = keyed ? `restock-${sequence}` : '';
    const { productId, warehouseId } = key;
    const command = { kind: 'adjust', productId, warehouseId, delta, reason: 'restock' } as const;
    const full = { ...command, idempotencyKey, actorId: 'admin-1', traceId: '' };
    keep(key.partition, state.apply(full, nowMs).record);
  };
  for (const key of keys) adjust(key, 50, false);
  while (sequence < recordCount) {
    nowMs += 1;
    const roll = next();
    const key = keys[Math.floor(next() * keyCount)] as (typeof keys)[number];
    const state = live[key.partition] as PartitionState;
    if (roll < 0.05) {
      adjust(key, 20, roll < 0.025);
    } else if (roll < 0.55) {
      const reservationId = mintReservationId(key.partition);
      const result = state.apply(
        {
          kind: 'reserve',
          productId: key.productId,
          warehouseId: key.warehouseId,
          quantity: 1 + Math.floor(next() * 3),
          idempotencyKey: `checkout-${sequence}`,
          ttlSeconds,
          reservationId,
          requesterId: `user-${Math.floor(next() * 100_000)}`,
          traceId: '',
        },
        nowMs,
      );
      if (result.record === undefined) adjust(key, 100, false);
      else (pending[key.partition] as string[]).push(reservationId);
      keep(key.partition, result.record);
    } else if (roll < 0.65) {
      // The expiry sweep: the oldest hold of the partition expires if it is due.
      const head = pendingHead[key.partition] as number;
      const reservationId = (pending[key.partition] as string[])[head];
      if (reservationId === undefined) continue;
      const expired = state.expire(reservationId, nowMs);
      if (expired === undefined && state.reservationOwners.has(reservationId)) continue;
      pendingHead[key.partition] = head + 1;
      keep(key.partition, expired?.record);
    } else {
      // Most holds are confirmed or released soon after they were made: the newest goes.
      const queue = pending[key.partition] as string[];
      if (queue.length <= (pendingHead[key.partition] as number)) continue;
      const reservationId = queue.pop() as string;
      const kind = roll < 0.93 ? 'confirm' : 'release';
      keep(key.partition, state.apply({ kind, reservationId, traceId: '' }, nowMs).record);
    }
  }
  return { live, payloads, types };
}

function replayAll(journal: readonly PackedPartition[]): PartitionState[] {
  return journal.map((packed, partition) => {
    const state = new PartitionState(partition, retention);
    for (const payload of rowsOf(packed)) state.replay(decodeRecord(payload));
    return state;
  });
}

function decodeAll(journal: readonly PackedPartition[]): number {
  let versions = 0;
  for (const packed of journal) {
    for (const payload of rowsOf(packed)) versions += decodeRecord(payload).version;
  }
  return versions;
}

function replayDecoded(records: JournalRecord[][]): PartitionState[] {
  return records.map((rows, partition) => {
    const state = new PartitionState(partition, retention);
    for (const record of rows) state.replay(record);
    return state;
  });
}

function checkEqual(expected: Map<string, string>, replayed: PartitionState[]): void {
  const actual = summary(replayed);
  if (actual.size !== expected.size) throw new Error('replay rebuilt another set of stock keys');
  for (const [key, value] of expected) {
    if (actual.get(key) !== value) throw new Error(`stock key ${key} differs after replay`);
  }
}

function timed<T>(run: () => T): [T, number] {
  const started = process.hrtime.bigint();
  const result = run();
  return [result, Number(process.hrtime.bigint() - started) / 1e9];
}

const median = (list: number[]): number => [...list].sort((a, b) => a - b)[list.length >> 1] ?? 0;
const rate = (seconds: number): string => Math.round(recordCount / seconds).toLocaleString('en-US');

const [made, makeSeconds] = timed(makeJournal);
const expected = summary(made.live);
const journal = made.payloads.map(pack);
const bytes = journal.reduce((sum, packed) => sum + packed.bytes.length, 0);
const mix = [...made.types].map(([type, count]) => `${type} ${count}`).join(', ');
out(`node ${process.version}: ${recordCount.toLocaleString('en-US')} records on ${keyCount} keys`);
out(`  (${partitions} partitions; made live in ${makeSeconds.toFixed(1)} s: ${mix})`);
out(`  mean encoded record: ${(bytes / recordCount).toFixed(1)} bytes`);

const full: number[] = [];
const decodeOnly: number[] = [];
const replayOnly: number[] = [];
for (let round = 0; round < rounds; round += 1) {
  const [replayed, seconds] = timed(() => replayAll(journal));
  checkEqual(expected, replayed);
  full.push(seconds);
  decodeOnly.push(timed(() => decodeAll(journal))[1]);
  const decoded = journal.map((packed) => [...rowsOf(packed)].map((row) => decodeRecord(row)));
  replayOnly.push(timed(() => replayDecoded(decoded))[1]);
}
const fullSeconds = median(full);
const status = recordCount / fullSeconds >= targetRecordsPerSecond ? 'MET' : 'NOT MET';
out(`median of ${rounds} rounds, one thread (records/s):`);
out(`  decode + replay: ${rate(fullSeconds)} (target >= 1,000,000: ${status})`);
out(`  decodeRecord alone: ${rate(median(decodeOnly))}`);
out(`  PartitionState.replay alone (pre-decoded): ${rate(median(replayOnly))}`);
out(`  every round: ${full.map((seconds) => rate(seconds)).join(', ')}`);
