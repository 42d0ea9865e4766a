// Proves LEDGER_TIMELINE_FILE: the real ledger, given a prefix, writes one JSON-lines file per
// thread (HTTP thread and each shard) holding its GCs, and the shards' group commits, snapshot and
// snapshot write, after known traffic and a stop.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { newKey, post } from '../helpers/http.js';
import { startLedger } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

interface Event {
  readonly k: string;
  readonly t: number;
  readonly [field: string]: unknown;
}

function eventsOf(path: string): Event[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Event);
}

describe.runIf(await havePostgres())('the timeline (LEDGER_TIMELINE_FILE)', () => {
  let database: TestDatabase;
  const directory = mkdtempSync(join(tmpdir(), 'ledger-timeline-'));

  beforeAll(async () => {
    database = await createDatabase();
  });

  afterAll(async () => {
    await database?.drop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('writes GCs, group commits and snapshots per thread, on one clock', async () => {
    const startedMs = Date.now();
    const ledger = await startLedger({
      env: {
        DATABASE_URL: database.url,
        LEDGER_TIMELINE_FILE: join(directory, 'run'),
        // A 1 MB young generation: the traffic below makes every thread collect garbage.
        NODE_OPTIONS: '--max-semi-space-size=1',
      },
    });
    const stock = { product_id: 'timed', warehouse_id: 'w' };
    expect(
      (await post(ledger.baseUrl, '/v1/stock/adjust', { ...stock, delta: 10_000 })).status,
    ).toBe(200);
    for (let round = 0; round < 20; round += 1) {
      const reserves = Array.from({ length: 25 }, () =>
        post(ledger.baseUrl, '/v1/reserve', {
          ...stock,
          quantity: 1,
          idempotency_key: newKey('tl'),
        }),
      );
      for (const answer of await Promise.all(reserves)) expect(answer.status).toBe(200);
    }
    expect((await post(ledger.baseUrl, '/v1/admin/snapshot', {})).status).toBe(200);
    expect(await ledger.stop()).toBe(0);

    expect(readdirSync(directory).sort()).toStrictEqual([
      'run.main.jsonl',
      'run.shard-0.jsonl',
      'run.shard-1.jsonl',
    ]);
    const main = eventsOf(join(directory, 'run.main.jsonl'));
    const shards = [0, 1].map((shard) => eventsOf(join(directory, `run.shard-${shard}.jsonl`)));
    const all = [main, ...shards].flat();
    expect(all.filter((event) => event.k === 'start')).toHaveLength(3);
    // Epoch milliseconds, within the test's own wall-clock window.
    for (const event of all) expect(event.t).toBeGreaterThanOrEqual(startedMs - 1000);
    for (const events of [main, ...shards]) {
      expect(events.some((event) => event.k === 'gc' && typeof event.kind === 'string')).toBe(true);
    }
    const commits = shards.flat().filter((event) => event.k === 'commit');
    // 1 adjust + 500 holds, in however many group commits.
    expect(commits.reduce((sum, event) => sum + Number(event.rows), 0)).toBe(501);
    expect(commits.reduce((sum, event) => sum + Number(event.replies), 0)).toBe(501);
    expect(shards.flat().some((event) => event.k === 'snapshot')).toBe(true);
    expect(shards.flat().some((event) => event.k === 'snapshot-write')).toBe(true);
    expect(main.filter((event) => event.k === 'replies').length).toBeGreaterThan(0);
    // Every command went to its shard in a batch the HTTP thread recorded, and came back in one.
    const counted = (kind: string) =>
      main.filter((event) => event.k === kind).reduce((sum, event) => sum + Number(event.count), 0);
    expect(counted('requests')).toBe(501);
    expect(counted('replies')).toBe(501);
  });
});
