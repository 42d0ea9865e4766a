// Shows that the simulator alone catches the bugs it exists for: each patch in test/sim/mutations
// plants one (a reply before its flush, recovery skipping the first record after a snapshot, an
// expiry applied but not journaled, state kept after a failed write, a snapshot without the
// idempotency memos, refusals that skip the reply gate, recovered holds left off the expiry
// schedule, a read-view bound that forgets holds ended by changes not yet durable, a snapshot
// taken in slices that misses a hold's change made before the slices reached it, with several
// group commits in flight a reply released before an earlier write committed, a recovery that
// reads past a gap in a partition's lsns, rows past a gap kept in the journal; and, for the
// cart simulator (cart-* patches), a cart confirm that confirms before its decision, pins that
// are never journaled, a sold-out crossing missed from one unit, a hold that takes units of a
// lot ending before the hold does; and, for the lease simulator (lease-* patches), a node that
// reloads partitions a fenced write told it it lost, rows written without their lease epoch, a
// partition taken again put out of service by a refusal of its old epoch's rows) in a
// throw-away copy of src/
// and test/; the simulator then runs seeds until it fails. Prints, per mutation, the seeds and
// seconds it took; exits 1 if one went unnoticed.
//   npx tsx test/sim/run-mutations.ts [--seconds 120] [--only name]
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '120' }, only: { type: 'string' } },
});
const root = fileURLToPath(new URL('../..', import.meta.url));
const mutations = join(root, 'test/sim/mutations');

interface Row {
  readonly mutation: string;
  readonly caught: boolean;
  readonly seeds: number;
  readonly seconds: number;
  readonly reason: string;
}

function copyTree(): string {
  const copy = mkdtempSync(join(tmpdir(), 'ledger-mutant-'));
  for (const entry of ['src', 'test', 'package.json', 'tsconfig.json']) {
    cpSync(join(root, entry), join(copy, entry), { recursive: true });
  }
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
  return copy;
}

function runMutation(name: string): Row {
  const copy = copyTree();
  try {
    const applied = spawnSync('git', ['apply', join(mutations, name)], { cwd: copy });
    if (applied.status !== 0) throw new Error(`${name} does not apply: ${String(applied.stderr)}`);
    const startedMs = performance.now();
    // A cart-* patch plants a bug of the checkout: the cart simulator hunts it; a lease-* patch
    // one of a cluster's fencing: the lease simulator does.
    const simulator = name.startsWith('cart-')
      ? 'test/sim/run-cart-sim.ts'
      : name.startsWith('lease-')
        ? 'test/sim/run-lease-sim.ts'
        : 'test/sim/run-sim.ts';
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', simulator, '--seconds', String(values.seconds)],
      { cwd: copy, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    const seconds = (performance.now() - startedMs) / 1000;
    const found = /simulation seed (\d+) failed at step (\d+): (.*)/.exec(run.stderr);
    return {
      mutation: name.replace(/\.patch$/, ''),
      caught: run.status === 1 && found !== null,
      seeds: found === null ? 0 : Number(found[1]),
      seconds,
      reason: found === null ? run.stdout.trim().slice(-200) : (found[3] ?? '').slice(0, 160),
    };
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

const names = readdirSync(mutations)
  .filter((name) => name.endsWith('.patch'))
  .filter((name) => values.only === undefined || name.startsWith(values.only))
  .sort();
const rows = names.map((name) => {
  const row = runMutation(name);
  process.stdout.write(`${JSON.stringify(row)}\n`);
  return row;
});
const survived = rows.filter((row) => !row.caught);
process.stdout.write(
  `\n${rows.length - survived.length} of ${rows.length} mutations caught by the simulator` +
    `${survived.length > 0 ? `; survived: ${survived.map((row) => row.mutation).join(', ')}` : ''}\n`,
);
process.exit(survived.length === 0 ? 0 : 1);
