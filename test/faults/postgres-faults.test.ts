// Proves the ledger never acknowledges what its journal does not hold when Postgres misbehaves:
// through a TCP proxy it is made unreachable, stalled and reset, and its backends are killed
// mid-flush (pg_terminate_backend), all under concurrent load. Writes get 503 (never a 200 that
// is not durable), memory never drifts from the WAL (a replay of ledger_wal equals what the
// ledger serves), readiness follows the journal, and the same process recovers and serves.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { DurableWorkload, type StockKey } from '../helpers/durable-workload.js';
import { sleep, startLedger, waitReady, type LedgerProcess } from '../helpers/ledger-process.js';
import { adminDatabaseUrl, havePostgres } from '../helpers/services.js';
import { knob, report, soak, timeoutFor } from '../helpers/soak.js';
import { productsAcrossShards } from '../helpers/stock-keys.js';
import { expectServedAsJournaled } from '../helpers/served-as-journaled.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const rounds = knob('SOAK_FAULT_ROUNDS', 3, 40);

describe.runIf(await havePostgres())('the ledger when Postgres fails under it', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let ledger: LedgerProcess;
  let workloads = 0;
  const tally = { rounds: 0, unavailable: 0, acked: 0, durableUnacked: 0, terminated: 0 };
  const startedMs = Date.now();

  beforeAll(async () => {
    database = await createDatabase();
    proxy = await TcpProxy.start();
    ledger = await startLedger({
      env: {
        DATABASE_URL: proxy.urlFor(database.url),
        LEDGER_TTL_SECONDS_MAX: String(DurableWorkload.ttlSeconds),
        LEDGER_SNAPSHOT_EVERY_RECORDS: '20',
      },
    });
  });

  afterAll(async () => {
    report({ test: 'postgres faults', seconds: (Date.now() - startedMs) / 1000, counts: tally });
    if (ledger !== undefined && ledger.child.exitCode === null) await ledger.kill();
    await proxy?.close();
    await database?.drop();
  });

  async function newWorkload(): Promise<DurableWorkload> {
    workloads += 1;
    // One key on each shard, so that every shard's journal connection carries writes.
    const products = productsAcrossShards(`fault-${process.pid}-${workloads}`, 2);
    const stocks: StockKey[] = products.map((product_id) => ({ product_id, warehouse_id: 'wh' }));
    const workload = new DurableWorkload(stocks, `fault-${process.pid}-${workloads}`, 0.7);
    await workload.adjust(ledger.baseUrl, stocks[0] as StockKey, 25);
    await workload.adjust(ledger.baseUrl, stocks[1] as StockKey, 500);
    return workload;
  }

  async function readyStatus(): Promise<number> {
    return (await fetch(`${ledger.baseUrl}/health/ready`)).status;
  }

  /**
   * After the fault: the ledger is ready again, every 200 is in the WAL, retries resolve every
   * unanswered request, and what the ledger serves is exactly what a replay of the WAL gives.
   */
  async function expectRecoveredWithoutDrift(workload: DurableWorkload): Promise<void> {
    await waitReady(ledger.baseUrl, 30_000, ledger.output);
    await expectServedAsJournaled(ledger.baseUrl, database, workload);
    expect(ledger.child.exitCode, 'the ledger process is still the same one').toBeNull();
    tally.unavailable += workload.answers.filter((answer) => answer.status === 503).length;
    tally.acked += workload.counts.acked;
    tally.durableUnacked += workload.counts.durableUnacked;
  }

  it('answers 503 while Postgres is unreachable, is not ready, and recovers after', async () => {
    const workload = await newWorkload();
    workload.start(ledger.baseUrl, 6);
    await sleep(150);
    proxy.refuse(true);
    proxy.dropAll();
    const outageMs = Date.now();
    await sleep(600);
    expect(await readyStatus(), 'ready while the journal is unreachable').toBe(503);
    await sleep(400);
    const writesDuring = workload.answers.filter(
      (answer) => answer.invokeMs > outageMs + 50 && answer.responseMs < Date.now(),
    );
    expect(writesDuring.length, 'requests answered during the outage').toBeGreaterThan(0);
    expect(
      writesDuring.filter((answer) => answer.status === 200),
      'a 200 without a journal',
    ).toEqual([]);
    proxy.refuse(false);
    await waitReady(ledger.baseUrl, 30_000, ledger.output);
    await sleep(200);
    await workload.stop();
    expect(workload.answers.some((answer) => answer.status === 503)).toBe(true);
    await expectRecoveredWithoutDrift(workload);
  }, 60_000);

  it(
    'holds every answer while Postgres stalls, and acknowledges only what became durable',
    async () => {
      const workload = await newWorkload();
      workload.start(ledger.baseUrl, 6);
      await sleep(150);
      // Longer than the readiness ping's 2 s; with SOAK also longer than the 15 s query timeout.
      const stallMs = soak ? 17_000 : 2_600;
      proxy.stall();
      const stalledMs = Date.now();
      const ready = await readyStatus();
      await sleep(Math.max(0, stallMs - (Date.now() - stalledMs)));
      const answeredInStall = workload.answers.filter(
        (answer) => answer.responseMs > stalledMs + 100 && answer.status === 200,
      );
      proxy.resume();
      expect(ready, 'ready while the journal does not answer').toBe(503);
      expect(answeredInStall, 'a 200 while nothing could be made durable').toEqual([]);
      await waitReady(ledger.baseUrl, 30_000, ledger.output);
      await sleep(200);
      await workload.stop();
      await expectRecoveredWithoutDrift(workload);
    },
    timeoutFor(soak ? 30_000 : 10_000),
  );

  it(
    'answers 503 when its journal connection is killed or reset mid-flush, and never drifts',
    async () => {
      const admin = new pg.Client({ connectionString: adminDatabaseUrl });
      await admin.connect();
      try {
        for (let round = 0; round < rounds; round += 1) {
          const workload = await newWorkload();
          workload.start(ledger.baseUrl, 8);
          for (let hit = 0; hit < 4; hit += 1) {
            await sleep(80 + Math.floor(Math.random() * 120));
            if ((round + hit) % 2 === 0) {
              const killed = await admin.query(
                `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = $1 AND pid <> pg_backend_pid()`,
                [database.name],
              );
              tally.terminated += killed.rowCount ?? 0;
            } else {
              tally.terminated += proxy.dropAll();
            }
          }
          await waitReady(ledger.baseUrl, 30_000, ledger.output);
          await sleep(100);
          await workload.stop();
          expect(
            workload.answers.some((answer) => answer.status === 503),
            '503 seen',
          ).toBe(true);
          await expectRecoveredWithoutDrift(workload);
          tally.rounds += 1;
        }
      } finally {
        await admin.end();
      }
      expect(tally.terminated, 'journal connections killed').toBeGreaterThan(0);
    },
    timeoutFor(rounds * 8_000),
  );

  // Last: until the ledger heals this by itself, it leaves the ledger not ready.
  it('becomes ready again by itself after its idle journal connections are killed', async () => {
    await waitReady(ledger.baseUrl, 30_000, ledger.output);
    const admin = new pg.Client({ connectionString: adminDatabaseUrl });
    await admin.connect();
    try {
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [database.name],
      );
      expect(killed.rowCount, 'journal connections killed').toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    // Postgres is fine; no request comes. Readiness must not stay 503 for good.
    await sleep(500);
    await waitReady(
      ledger.baseUrl,
      10_000,
      () => 'still not ready 10 s after the connections died',
    );
    const workload = await newWorkload();
    await workload.checkBooks(ledger.baseUrl);
  }, 30_000);

  it('drains and exits 0 on SIGTERM after its journal connections were killed', async () => {
    const admin = new pg.Client({ connectionString: adminDatabaseUrl });
    await admin.connect();
    try {
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [database.name],
      );
    } finally {
      await admin.end();
    }
    await sleep(300);
    ledger.child.kill('SIGTERM');
    // Postgres is up: draining may reconnect to flush, but must end within the drain bound.
    const exit = await Promise.race([ledger.exited, sleep(15_000).then(() => 'hung' as const)]);
    expect(exit, 'exit code after SIGTERM').toBe(0);
  }, 30_000);
});
