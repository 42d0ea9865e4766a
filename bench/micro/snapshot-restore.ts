// What recovering a hot partition from its snapshot costs the shard, before it replays the tail:
// decoding the snapshot and restoring the partition, for one hot key with --holds pending holds
// (the first --confirmed of them confirmed, so retained as finished holds), as after a flash
// sale's first minutes and a kill -9. Two ways, alternated round by round on the same bytes:
// - as recovery does it (`decodeSnapshotForRestore`): each key's holds and the finished entries
//   left in their bytes, each tuple decoded as restore visits it;
// - decoded whole first (`decodeSnapshot`, as recovery did before), then restored.
// Each round starts from a full collection, and reports the wall time of the decode and of the
// restore (garbage collections within them included).
// Both restored partitions are checked: the holds pending and retained that were captured.
//
//   npx tsx bench/micro/snapshot-restore.ts [--holds 1000000] [--confirmed 0] [--rounds 3]
import { parseArgs } from 'node:util';
import {
  captureSnapshot,
  restoreSnapshot,
  type RestorableSnapshot,
} from '../../src/actors/index.js';
import {
  decodeSnapshot,
  decodeSnapshotForRestore,
  encodeSnapshot,
} from '../../src/persistence/snapshot-codec.js';
import { fullCollection } from '../lib/full-collection.js';
import { hotPartition } from '../lib/hot-partition.js';
import { median } from '../lib/report.js';
import { aDayRetained } from '../lib/retention.js';

const { values } = parseArgs({
  options: {
    holds: { type: 'string', default: '1000000' },
    confirmed: { type: 'string', default: '0' },
    rounds: { type: 'string', default: '3' },
  },
});
const [holds, confirmed, rounds] = [values.holds, values.confirmed, values.rounds].map(Number) as [
  number,
  number,
  number,
];
if (!(holds >= 1 && confirmed >= 0 && confirmed <= holds && rounds >= 1)) {
  throw new Error('--holds and --rounds want positive integers, --confirmed at most --holds');
}
const retention = aDayRetained;

const state = hotPartition(holds);
const ids = [...state.pending.ids()].slice(0, confirmed);
let nowMs = 1_790_000_000_000 + holds + 1;
for (const reservationId of ids) {
  nowMs += 1;
  const result = state.apply({ kind: 'confirm', reservationId, traceId: '' }, nowMs);
  if (!result.outcome.ok) throw new Error(`confirm failed: ${result.outcome.code}`);
}
const [pending, finished] = [state.pending.size, state.finishedCount];
const payload = encodeSnapshot(captureSnapshot(state));

interface Round {
  readonly decodeMs: number;
  readonly restoreMs: number;
}

function restoreOnce(decode: (bytes: Uint8Array) => RestorableSnapshot): Round {
  fullCollection();
  const started = performance.now();
  const snapshot = decode(payload);
  const decoded = performance.now();
  const restored = restoreSnapshot(snapshot, retention);
  const done = performance.now();
  if (restored.pending.size !== pending || restored.finishedCount !== finished) {
    throw new Error(
      `restored ${restored.pending.size} pending, ${restored.finishedCount} finished`,
    );
  }
  return { decodeMs: decoded - started, restoreMs: done - decoded };
}

const ways = [
  ['as recovery does it (decodeSnapshotForRestore)', decodeSnapshotForRestore],
  ['decoded whole first (decodeSnapshot)', decodeSnapshot],
] as const;
const results = ways.map((): Round[] => []);
for (let round = 0; round < rounds; round += 1) {
  // Alternated, and each way first in turn.
  for (let turn = 0; turn < ways.length; turn += 1) {
    const way = (round + turn) % ways.length;
    (results[way] as Round[]).push(restoreOnce((ways[way] as (typeof ways)[number])[1]));
  }
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const ms = (list: number[]): string =>
  `${(median(list) ?? 0).toFixed(0)} ms (rounds ${list.map((each) => each.toFixed(0)).join(', ')})`;
out(
  `node ${process.version}: one hot key, ${pending.toLocaleString('en-US')} holds pending and ` +
    `${finished.toLocaleString('en-US')} finished retained; snapshot ${(payload.length / 1e6).toFixed(1)} MB`,
);
ways.forEach(([name], index) => {
  const list = results[index] as Round[];
  out(`${name}, median of ${rounds}:`);
  out(`  decode + restore: ${ms(list.map((each) => each.decodeMs + each.restoreMs))}`);
  out(`    decode: ${ms(list.map((each) => each.decodeMs))}`);
  out(`    restore: ${ms(list.map((each) => each.restoreMs))}`);
});
