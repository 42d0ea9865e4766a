// The bench's --timeline reads of what the ledger's tables grow by, on the real Postgres: every
// relation of the migrated schema by name, a TOAST table and its index under their table's name,
// growth attributed to the relation the rows went to, and the sampler's 'relation' events.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  readRelationSizes,
  relationsGrown,
  sampleRelationGrowth,
} from '../../bench/lib/postgres-timeline.js';
import { withScratchDatabase } from '../../bench/lib/scratch-database.js';
import { parseEvents } from '../../bench/lib/timeline-join.js';
import { migrate } from '../../src/persistence/migrations.js';
import { adminDatabaseUrl, havePostgres } from '../helpers/services.js';

const journalRows = (client: pg.Client, from: number, count: number) =>
  client.query(
    `INSERT INTO ledger_wal (partition, lsn, payload)
     SELECT 0, g, convert_to(repeat('x', 90), 'UTF8') FROM generate_series($1::bigint, $2::bigint) g`,
    [from, from + count - 1],
  );

describe('relationsGrown', () => {
  it('keeps only what grew, a new relation whole', () => {
    const before = new Map([
      ['a', 8_192],
      ['b', 16_384],
      ['c', 8_192],
    ]);
    const after = new Map([
      ['a', 24_576],
      ['b', 16_384],
      ['c', 0],
      ['d', 8_192],
    ]);
    expect(relationsGrown(before, after)).toStrictEqual({ a: 16_384, d: 8_192 });
  });
});

describe.runIf(await havePostgres())('relation growth on Postgres', () => {
  it("names the ledger's relations, TOAST under its table, and finds where rows went", async () => {
    await withScratchDatabase(adminDatabaseUrl, async (url) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await migrate(client);
        const before = await readRelationSizes(client);
        expect(before.has('ledger_wal')).toBe(true);
        expect(before.has('ledger_wal_pkey')).toBe(true);
        expect(before.has('ledger_snapshot_parts (TOAST)')).toBe(true);
        expect([...before.keys()].filter((name) => name.startsWith('pg_'))).toStrictEqual([]);

        await journalRows(client, 1, 5_000);
        // Random bytes do not compress: 200 kB go out of line, to the table's TOAST.
        await client.query(
          'INSERT INTO ledger_snapshot_parts (partition, lsn, part, payload) VALUES (0, 1, 0, $1)',
          [randomBytes(200_000)],
        );
        const grown = relationsGrown(before, await readRelationSizes(client));
        expect(grown.ledger_wal).toBeGreaterThanOrEqual(5_000 * 90);
        expect(grown.ledger_wal_pkey).toBeGreaterThan(0);
        expect(grown['ledger_snapshot_parts (TOAST)']).toBeGreaterThanOrEqual(200_000);
        expect(grown.ledger_movements).toBeUndefined();
        expect(grown.ledger_snapshots).toBeUndefined();
      } finally {
        await client.end();
      }
    });
  });

  it("records a 'relation' event for each relation that grew between reads", async () => {
    const directory = mkdtempSync(join(tmpdir(), 'relation-growth-'));
    try {
      await withScratchDatabase(adminDatabaseUrl, async (url) => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await migrate(client);
          const prefix = join(directory, 't');
          const stop = await sampleRelationGrowth(url, prefix);
          await journalRows(client, 1, 5_000);
          // The sampler reads once a second: two reads after the rows.
          await sleep(2_300);
          await stop();
          const events = parseEvents(readFileSync(`${prefix}.tables.jsonl`, 'utf8'));
          const journal = events.filter((event) => event.name === 'ledger_wal');
          // One read, or two if the insert straddled one (a slow machine).
          expect(journal.length).toBeGreaterThanOrEqual(1);
          expect(journal.every((event) => event.k === 'relation' && (event.ms ?? 0) > 500)).toBe(
            true,
          );
          const bytes = journal.reduce((sum, event) => sum + Number(event.bytes), 0);
          expect(bytes).toBeGreaterThanOrEqual(5_000 * 90);
          expect(events.every((event) => Number(event.bytes) > 0)).toBe(true);
        } finally {
          await client.end();
        }
      });
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
