// Proves the durability promises under SIGKILL at any moment: a loop kills the real ledger under
// concurrent load mid-flush, between a commit and its reply (Postgres's answers delayed by a
// proxy), while it recovers (before ready) and while it writes snapshots; after each restart
// every 200 is there exactly once, retries resolve each unanswered request to one effect, and
// the books (on_hand, reserved, version) are exact — nothing lost, doubled or oversold. Most
// modes run with several group commits in flight, so a kill can land between two writes' commits
// (and the restart after it recovers a journal whose later write landed, the earlier not).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { DurableWorkload, type StockKey } from '../helpers/durable-workload.js';
import {
  eventually,
  sleep,
  startLedger,
  waitReady,
  type LedgerProcess,
} from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';
import { knob, report, soak, timeoutFor } from '../helpers/soak.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

type Mode = 'mid-flush' | 'commit-before-reply' | 'in-recovery' | 'mid-snapshot';
const modes: readonly Mode[] = ['mid-flush', 'commit-before-reply', 'in-recovery', 'mid-snapshot'];

const cycles = knob('SOAK_CRASH_CYCLES', 8, 1_000);

function randomBetween(low: number, high: number): number {
  return low + Math.floor(Math.random() * (high - low + 1));
}

/** Per mode: how often a partition is snapshotted (1: after every record, so always). */
function snapshotEvery(mode: Mode): string {
  return mode === 'mid-snapshot' ? '1' : mode === 'mid-flush' ? '50000' : '5';
}

/** Per mode: group commits in flight (LEDGER_COMMITS_IN_FLIGHT); one mode keeps a single one. */
function commitsInFlight(mode: Mode): string {
  return mode === 'mid-snapshot' ? '1' : mode === 'commit-before-reply' ? '3' : '2';
}

interface Tally {
  cycles: number;
  kills: number;
  killsBeforeReady: number;
  acked: number;
  unknown: number;
  durableUnacked: number;
  lostUnacked: number;
  checkedAfterRestart: number;
}

describe.runIf(await havePostgres())(
  'the crash matrix: SIGKILL at chosen and random moments',
  () => {
    let database: TestDatabase;
    let proxy: TcpProxy;
    let ledger: LedgerProcess | undefined;
    const tally: Tally = {
      cycles: 0,
      kills: 0,
      killsBeforeReady: 0,
      acked: 0,
      unknown: 0,
      durableUnacked: 0,
      lostUnacked: 0,
      checkedAfterRestart: 0,
    };
    const startedMs = Date.now();

    beforeAll(async () => {
      database = await createDatabase();
      proxy = await TcpProxy.start();
    });

    afterAll(async () => {
      report({
        test: 'crash matrix (kill -9)',
        seconds: (Date.now() - startedMs) / 1000,
        counts: { ...tally },
      });
      await ledger?.kill();
      await proxy?.close();
      await database?.drop();
    });

    const env = (mode: Mode) => ({
      DATABASE_URL: proxy.urlFor(database.url),
      LEDGER_SNAPSHOT_EVERY_RECORDS: snapshotEvery(mode),
      LEDGER_COMMITS_IN_FLIGHT: commitsInFlight(mode),
      LEDGER_TTL_SECONDS_MAX: String(DurableWorkload.ttlSeconds),
    });

    // How long the last start took from listening to ready: the window a recovery kill aims at.
    let recoveryWindowMs = 500;

    async function start(mode: Mode): Promise<LedgerProcess> {
      const starting = await startLedger({ env: env(mode), waitReady: false });
      const listeningMs = Date.now();
      await waitReady(starting.baseUrl, 60_000, starting.output);
      recoveryWindowMs = Date.now() - listeningMs;
      return starting;
    }

    /** Grows with every snapshot row written (each partition keeps its latest two). */
    async function snapshotsWritten(): Promise<bigint> {
      const rows = await database.query<{ lsns: string }>(
        'SELECT coalesce(sum(lsn), 0) AS lsns FROM ledger_snapshots',
      );
      return BigInt(rows[0]?.lsns ?? '0');
    }

    /**
     * Waits until the ledger has written a snapshot since `before`: a kill aimed at snapshots
     * lands while they are being written, not before the first one of a start reached Postgres
     * (on a busy machine that can take longer than the load runs).
     */
    async function snapshotWrittenSince(before: bigint): Promise<void> {
      await eventually(15_000, async () => {
        if ((await snapshotsWritten()) === before) {
          throw new Error('no snapshot written under load in 15 s');
        }
      });
    }

    async function kill(running: LedgerProcess): Promise<void> {
      await running.kill();
      tally.kills += 1;
    }

    /**
     * Starts the ledger and kills it once or twice before it is ready: recovery cut short. The
     * first kill lands as soon as it listens (its shards are still recovering then, however quick
     * recovery has become), a second one at a random moment of the last start's recovery window.
     */
    async function killDuringRecovery(mode: Mode): Promise<void> {
      const rounds = randomBetween(1, 2);
      for (let round = 0; round < rounds; round += 1) {
        const starting = await startLedger({ env: env(mode), waitReady: false });
        if (round > 0) await sleep(randomBetween(0, Math.floor(recoveryWindowMs * 0.8)));
        const ready = await fetch(`${starting.baseUrl}/health/ready`).then(
          (response) => response.status === 200,
          () => false,
        );
        if (!ready) tally.killsBeforeReady += 1;
        await kill(starting);
      }
    }

    async function cycle(index: number, mode: Mode, next: Mode, recent: DurableWorkload[]) {
      const stocks: StockKey[] = ['hot', 'warm', 'cold'].map((name) => ({
        product_id: `${name}-${index}`,
        warehouse_id: 'wh',
      }));
      const workload = new DurableWorkload(stocks, `crash-${process.pid}-${index}`);
      let running = ledger ?? (await start(mode));
      // Little stock on the hot key, so reserves race for the last units as the kill lands.
      for (const [position, stock] of stocks.entries()) {
        await workload.adjust(running.baseUrl, stock, position === 0 ? 15 : 200);
      }
      if (mode === 'commit-before-reply') proxy.replyDelayMs = randomBetween(20, 60);
      const snapshotsBefore = await snapshotsWritten();
      workload.start(running.baseUrl, 8);
      if (mode === 'mid-snapshot') await snapshotWrittenSince(snapshotsBefore);
      await sleep(randomBetween(40, 300));
      await kill(running);
      await workload.stop();
      proxy.replyDelayMs = 0;
      if (mode === 'in-recovery') await killDuringRecovery(next);

      running = await start(next);
      ledger = running;
      tally.checkedAfterRestart += await workload.checkAcknowledged(running.baseUrl);
      await workload.resolveUnknown(running.baseUrl);
      await workload.checkBooks(running.baseUrl);
      await workload.checkOneHoldPerKey(running.baseUrl, soak ? 10 : 40);
      // Earlier cycles' books survive the later kills too.
      for (const earlier of recent) await earlier.checkBooks(running.baseUrl);
      for (const key of ['acked', 'unknown', 'durableUnacked', 'lostUnacked'] as const) {
        tally[key] += workload.counts[key];
      }
      tally.cycles += 1;
      return workload;
    }

    it(
      'keeps every acknowledged change exactly once and oversells nothing, kill after kill',
      async () => {
        const recent: DurableWorkload[] = [];
        const plan = Array.from({ length: cycles }, (_, index) =>
          index < modes.length ? (modes[index] as Mode) : (modes[randomBetween(0, 3)] as Mode),
        );
        for (const [index, mode] of plan.entries()) {
          const workload = await cycle(index, mode, plan[index + 1] ?? 'mid-flush', recent);
          recent.push(workload);
          if (recent.length > 3) recent.shift();
        }
        // The kills must have landed where they were aimed: with requests in flight, and after a
        // commit whose answer never reached the client.
        expect(tally.acked, 'acknowledged requests').toBeGreaterThan(0);
        expect(tally.unknown, 'requests cut off by a kill').toBeGreaterThan(0);
        expect(tally.durableUnacked, 'committed but never acknowledged').toBeGreaterThan(0);
        expect(tally.killsBeforeReady, 'kills while recovering').toBeGreaterThan(0);
        const snapshots = await database.query<{ count: string }>(
          'SELECT count(*) FROM ledger_snapshots',
        );
        expect(Number(snapshots[0]?.count), 'snapshots written under load').toBeGreaterThan(0);
      },
      timeoutFor(cycles * 6_000),
    );
  },
);
