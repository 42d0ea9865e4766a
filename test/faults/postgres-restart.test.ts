// Proves what a real restart of Postgres does to a ledger serving under load, which a proxy's cut
// does not show: a fast shutdown ends every backend (FATAL admin_shutdown) and checkpoints; an
// immediate one (as a crash: no checkpoint) leaves Postgres to replay its own WAL when it starts;
// in both, new connections are refused while it is down and told that the database system is
// starting up as it comes back. The ledger answers 503 meanwhile (never a 200 its journal does
// not hold), serves again by itself once Postgres is back (the same process), serves exactly what
// a replay of its journal gives, and a ledger killed with SIGKILL afterwards recovers every
// acknowledged change. The ledger's own Postgres here (the embedded one: real binaries, a temp
// data directory, the same port again), so the shared server is never restarted.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgresHandle,
} from '../../src/persistence/embedded/index.js';
import { readPostmasterPid, waitForExit } from '../../src/persistence/embedded/postmaster.js';
import { databaseAt } from '../helpers/database.js';
import { DurableWorkload, type StockKey } from '../helpers/durable-workload.js';
import { sleep, startLedger, waitReady, type LedgerProcess } from '../helpers/ledger-process.js';
import { productsAcrossShards } from '../helpers/stock-keys.js';
import { expectServedAsJournaled } from '../helpers/served-as-journaled.js';

describe('the ledger when its Postgres restarts under load', () => {
  let dataDir: string;
  let postgres: EmbeddedPostgresHandle;
  let ledger: LedgerProcess;
  let workloads = 0;
  const postgresLog: string[] = [];

  const startPostgres = (port?: number) =>
    startEmbeddedPostgres({ dataDir, log: (line) => postgresLog.push(line), port });
  const startTheLedger = () =>
    startLedger({
      env: {
        DATABASE_URL: postgres.url,
        LEDGER_TTL_SECONDS_MAX: String(DurableWorkload.ttlSeconds),
        LEDGER_SNAPSHOT_EVERY_RECORDS: '20',
      },
    });

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'ledger-pg-restart-'));
    postgres = await startPostgres();
    ledger = await startTheLedger();
  }, 180_000);

  afterAll(async () => {
    if (ledger !== undefined && ledger.child.exitCode === null) await ledger.kill();
    await postgres?.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  async function newWorkload(): Promise<DurableWorkload> {
    workloads += 1;
    const tag = `restart-${process.pid}-${workloads}`;
    // One key on each shard, so that every shard's journal connection carries writes.
    const stocks: StockKey[] = productsAcrossShards(tag, 2).map((product_id) => ({
      product_id,
      warehouse_id: 'wh',
    }));
    const workload = new DurableWorkload(stocks, tag, 0.7);
    await workload.adjust(ledger.baseUrl, stocks[0] as StockKey, 25);
    await workload.adjust(ledger.baseUrl, stocks[1] as StockKey, 500);
    return workload;
  }

  /** Stops Postgres under the load, checks what was answered while it was down, starts it. */
  async function restartUnderLoad(workload: DurableWorkload, stop: () => Promise<void>) {
    const port = postgres.port;
    workload.start(ledger.baseUrl, 6);
    await sleep(300);
    await stop();
    const downMs = Date.now();
    await sleep(1_000);
    expect((await fetch(`${ledger.baseUrl}/health/ready`)).status, 'ready, Postgres down').toBe(
      503,
    );
    const answeredWhileDown = workload.answers.filter(
      (answer) => answer.invokeMs > downMs && answer.responseMs < Date.now(),
    );
    expect(answeredWhileDown.length, 'requests answered while Postgres was down').toBeGreaterThan(
      0,
    );
    expect(
      answeredWhileDown.filter((answer) => answer.status === 200),
      'a 200 while Postgres was down',
    ).toEqual([]);
    postgres = await startPostgres(port);
    // The ledger's DATABASE_URL names this port (a start finding it taken would pick another).
    expect(postgres.port, 'Postgres back on its port').toBe(port);
    await waitReady(ledger.baseUrl, 60_000, ledger.output);
    await sleep(300);
    await workload.stop();
    expect(workload.counts.acked, 'acknowledged before and after the restart').toBeGreaterThan(0);
  }

  /** Every 200 is in the journal, and what the ledger serves is what a replay of it gives. */
  const expectServedAsJournaledNow = (workload: DurableWorkload) =>
    expectServedAsJournaled(ledger.baseUrl, databaseAt('ledger', postgres.url), workload);

  it('answers 503 through a fast shutdown and start of Postgres, then serves again by itself', async () => {
    const workload = await newWorkload();
    await restartUnderLoad(workload, () => postgres.stop());
    expect(ledger.child.exitCode, 'the ledger process is still the same one').toBeNull();
    expect(workload.answers.some((answer) => answer.status === 503)).toBe(true);
    await expectServedAsJournaledNow(workload);
  }, 180_000);

  it('comes through an immediate shutdown (Postgres replays its WAL), and a SIGKILL after it', async () => {
    const workload = await newWorkload();
    await restartUnderLoad(workload, async () => {
      // SIGQUIT: Postgres's immediate shutdown, no checkpoint; its next start runs crash recovery.
      const pid = await readPostmasterPid(path.join(dataDir, 'pg'));
      if (pid === undefined) throw new Error('no postmaster.pid in the data directory');
      process.kill(pid, 'SIGQUIT');
      if (!(await waitForExit(pid, 60_000))) throw new Error(`postmaster ${pid} still running`);
    });
    expect(postgresLog.join('\n'), 'Postgres ran its crash recovery').toMatch(
      /not properly shut down; automatic recovery in progress/,
    );
    expect(ledger.child.exitCode, 'the ledger process is still the same one').toBeNull();
    await expectServedAsJournaledNow(workload);
    // The journal written across the restart recovers in full into a new process.
    await ledger.kill();
    ledger = await startTheLedger();
    await workload.checkAcknowledged(ledger.baseUrl);
    await workload.checkBooks(ledger.baseUrl);
    await expectServedAsJournaledNow(workload);
  }, 180_000);
});
