// What one snapshot of a hot partition costs: capturing it (on the shard thread), encoding it
// (on the shard thread) and writing the row (on the snapshot connection), for a partition whose
// one hot key holds N pending reservations, as after a flash sale's first minutes. The write goes
// through the real JournalStore into a scratch database (dropped afterwards, also on Ctrl-C).
//
//   npx tsx bench/micro/snapshot-cost.ts [--holds 150000] [--rounds 3]
//     [--database-url postgres://postgres@127.0.0.1:5432/postgres]
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PartitionState, captureSnapshot, type Command } from '../../src/actors/index.js';
import { JournalStore } from '../../src/persistence/journal-store.js';
import { migrate } from '../../src/persistence/migrations.js';
import { encodeSnapshot } from '../../src/persistence/snapshot-codec.js';
import { mintReservationId } from '../../src/router/reservation-id.js';
import { median } from '../lib/report.js';
import { withScratchDatabase } from '../lib/scratch-database.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const partition = 5;
const retention = { retainFinishedMs: 86_400_000, retainFinishedMax: 1_000_000, onHandMax: 1e12 };

function hotPartition(holds: number): PartitionState {
  const state = new PartitionState(partition, retention);
  let nowMs = 1_790_000_000_000;
  const key = { productId: 'hot-sku', warehouseId: 'bench-wh' };
  const adjust: Command = {
    kind: 'adjust',
    ...key,
    delta: 1_000_000_000,
    reason: 'bench',
    idempotencyKey: '',
    actorId: 'bench',
    traceId: 'bench',
  };
  state.apply(adjust, nowMs);
  for (let index = 0; index < holds; index += 1) {
    nowMs += 1;
    const result = state.apply(
      {
        kind: 'reserve',
        ...key,
        quantity: 1,
        ttlSeconds: 3600,
        idempotencyKey: `bench-abcdef12-0-${index.toString(36).padStart(6, '0')}`,
        reservationId: mintReservationId(partition),
        requesterId: 'bench',
        traceId: 'bench',
      },
      nowMs,
    );
    if (result.record === undefined) throw new Error(`reserve ${index} was refused`);
  }
  return state;
}

function options() {
  const { values } = parseArgs({
    options: {
      holds: { type: 'string', default: '150000' },
      rounds: { type: 'string', default: '3' },
      'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    },
  });
  const holds = Number(values.holds);
  const rounds = Number(values.rounds);
  if (!(Number.isInteger(holds) && holds >= 1 && Number.isInteger(rounds) && rounds >= 1)) {
    throw new Error('--holds and --rounds want positive integers');
  }
  return { holds, rounds, databaseUrl: values['database-url'] };
}

async function main(): Promise<void> {
  const chosen = options();
  const state = hotPartition(chosen.holds);
  await withScratchDatabase(chosen.databaseUrl, async (url) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await migrate(client);
      const store = new JournalStore(client);
      const capture: number[] = [];
      const encode: number[] = [];
      const write: number[] = [];
      let bytes = 0;
      for (let round = 0; round < chosen.rounds; round += 1) {
        const started = performance.now();
        const snapshot = captureSnapshot(state);
        const captured = performance.now();
        const payload = encodeSnapshot(snapshot);
        const encoded = performance.now();
        await store.writeSnapshot({ partition, lsn: round + 1, payload });
        capture.push(captured - started);
        encode.push(encoded - captured);
        write.push(performance.now() - encoded);
        bytes = payload.length;
      }
      const ms = (values: number[]): string =>
        `${(median(values) ?? 0).toFixed(1)} ms (rounds ${values.map((v) => v.toFixed(1)).join(', ')})`;
      out(`one partition, one hot key with ${chosen.holds} pending holds; ${bytes} bytes encoded`);
      out(`  capture (shard thread): ${ms(capture)}`);
      out(`  encode (shard thread):  ${ms(encode)}`);
      out(`  write (snapshot connection, JournalStore.writeSnapshot): ${ms(write)}`);
    } finally {
      await client.end();
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`snapshot-cost bench failed: ${String(error)}\n`);
  process.exitCode = 1;
});
