// Proves the binary COPY reader gives back exactly the rows of a stream however its chunks split
// it (fast-check), refuses what is not a (lsn, payload) binary COPY, tells a cut stream from a
// whole one, and reads what a real Postgres sends; that JournalStore.readTail through it reads
// every row back and leaves no query timer behind (which kept a stopping shard alive); that
// JournalStore.readAll reads every row of the listed partitions, and only theirs, page by page
// (by heap blocks, or partition by partition as before PostgreSQL 14); and that readTails reads
// every row after each partition's lsn, and only those, whatever the page of a statement.
import fc from 'fast-check';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { copyOut } from '../../../src/persistence/copy-out.js';
import { JournalStore, type ReadAllOptions } from '../../../src/persistence/journal-store.js';
import { migrate } from '../../../src/persistence/migrations.js';
import { WalCopyFormatError, WalCopyRows } from '../../../src/persistence/wal-copy-reader.js';
import { createDatabase } from '../../helpers/database.js';
import { cutAt } from '../../helpers/byte-cuts.js';
import { runOptions } from '../../helpers/fc-options.js';
import { adminDatabaseUrl, havePostgres } from '../../helpers/services.js';

interface Row {
  readonly lsn: number;
  readonly payload: Uint8Array;
  /** Only in a stream with the partition column. */
  readonly partition?: number;
}

/** The binary COPY format as the Postgres docs give it, with a header extension of `extension`. */
function copyStream(rows: readonly Row[], extension = Buffer.alloc(0), fields = 2): Buffer {
  const header = Buffer.alloc(19);
  header.write('PGCOPY\n\xff\r\n\0', 0, 'latin1');
  header.writeUInt32BE(0, 11);
  header.writeUInt32BE(extension.length, 15);
  const parts = [header, extension];
  for (const { lsn, payload, partition } of rows) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(fields, 0);
    parts.push(count);
    if (partition !== undefined) {
      const column = Buffer.alloc(8);
      column.writeInt32BE(4, 0);
      column.writeInt32BE(partition, 4);
      parts.push(column);
    }
    const fixed = Buffer.alloc(16);
    fixed.writeInt32BE(8, 0);
    fixed.writeBigInt64BE(BigInt(lsn), 4);
    fixed.writeInt32BE(payload.length, 12);
    parts.push(fixed, Buffer.from(payload));
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

function read(
  chunks: readonly Buffer[],
  withPartition = false,
): { rows: Row[]; complete: boolean } {
  const rows: Row[] = [];
  const reader = new WalCopyRows(
    (partition, lsn, bytes, start, end) =>
      rows.push(
        withPartition
          ? { lsn, payload: Buffer.from(bytes.subarray(start, end)), partition }
          : { lsn, payload: Buffer.from(bytes.subarray(start, end)) },
      ),
    withPartition,
  );
  // Each piece handed over inside bytes of no row, as a range: a reader that read before its
  // start or past its end would meet them.
  for (const chunk of chunks) {
    const padded = Buffer.concat([Buffer.from([0xff, 0x7f, 0x00]), chunk, Buffer.from([0, 3])]);
    reader.push(padded, 3, 3 + chunk.length);
  }
  return { rows, complete: reader.complete };
}

const rowFields = {
  lsn: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  payload: fc.uint8Array({ maxLength: 300 }),
};
const rowArbitrary = fc.record(rowFields);

const postgres = await havePostgres();

/** A migrated scratch database's JournalStore (and an admin client on it), dropped after. */
async function withJournal(
  test: (store: JournalStore, admin: pg.Client) => Promise<void>,
): Promise<void> {
  const database = await createDatabase();
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  const store = await JournalStore.connect(database.url, { onError: () => undefined });
  try {
    await migrate(admin);
    await test(store, admin);
  } finally {
    await store.close();
    await admin.end();
    await database.drop();
  }
}

describe('WalCopyRows', () => {
  it('gives back every row, in order, whatever the chunks', () => {
    fc.assert(
      fc.property(
        fc.array(rowArbitrary, { maxLength: 30 }),
        fc.uint8Array({ maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (rows, extension, offsets) => {
          const stream = copyStream(rows, Buffer.from(extension));
          const result = read(cutAt(stream, offsets));
          expect(result.complete).toBe(true);
          expect(result.rows).toEqual(
            rows.map((row) => ({ ...row, payload: Buffer.from(row.payload) })),
          );
        },
      ),
      runOptions(300),
    );
  });

  it('gives back rows many pieces long, as a snapshot’s parts of a MiB come', () => {
    const payloads = [300_000, 5, 1 << 20].map((length, seed) =>
      Buffer.from(Array.from({ length }, (_, index) => (index * 31 + seed) & 0xff)),
    );
    const rows = payloads.map((payload, index) => ({ lsn: index, payload }));
    const stream = copyStream(rows);
    // Pieces of 64 KiB as a socket reads them, of 1,000 bytes, and of 7,777; each after a first
    // piece of one byte.
    for (const size of [65_536, 1_000, 7_777]) {
      const offsets = [1];
      for (let offset = size; offset < stream.length; offset += size) offsets.push(offset);
      const result = read(cutAt(stream, offsets));
      expect(result.complete).toBe(true);
      expect(result.rows.map((row) => row.lsn)).toStrictEqual([0, 1, 2]);
      result.rows.forEach((row, index) => {
        expect(Buffer.compare(row.payload, payloads[index] as Buffer)).toBe(0);
      });
    }
  });

  it('gives back every (partition, lsn, payload) row with the partition column', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ ...rowFields, partition: fc.integer({ min: 0, max: 0xffff }) }), {
          maxLength: 30,
        }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (rows, offsets) => {
          const result = read(cutAt(copyStream(rows, undefined, 3), offsets), true);
          expect(result.complete).toBe(true);
          expect(result.rows).toEqual(
            rows.map((row) => ({ ...row, payload: Buffer.from(row.payload) })),
          );
        },
      ),
      runOptions(200),
    );
    // Each reader refuses the other's rows.
    const row = { lsn: 1, payload: Buffer.from('x') };
    expect(() => read([copyStream([row])], true)).toThrow(WalCopyFormatError);
    expect(() => read([copyStream([{ ...row, partition: 4 }], undefined, 3)])).toThrow(
      WalCopyFormatError,
    );
  });

  it('is not complete before the end marker', () => {
    const stream = copyStream([{ lsn: 7, payload: Buffer.from('abc') }]);
    const result = read([stream.subarray(0, stream.length - 2)]);
    expect(result.rows).toHaveLength(1);
    expect(result.complete).toBe(false);
    expect(read([stream.subarray(0, 30)]).rows).toEqual([]);
  });

  it('refuses another format, another row shape, a NULL payload, bytes after the end', () => {
    const row = { lsn: 1, payload: Buffer.from('x') };
    const text = Buffer.from('1\t\\x78\n');
    expect(() => read([Buffer.concat([text, Buffer.alloc(20)])])).toThrow(WalCopyFormatError);
    expect(() => read([copyStream([row], undefined, 3)])).toThrow(WalCopyFormatError);
    const nullPayload = copyStream([row]);
    nullPayload.writeInt32BE(-1, 19 + 14);
    expect(() => read([nullPayload])).toThrow(WalCopyFormatError);
    expect(() => read([Buffer.concat([copyStream([row]), Buffer.from([0])])])).toThrow(
      WalCopyFormatError,
    );
  });

  it.runIf(postgres)('reads the rows a real Postgres sends', async () => {
    const client = new pg.Client({ connectionString: adminDatabaseUrl });
    await client.connect();
    try {
      const rows: Row[] = [];
      const reader = new WalCopyRows((_partition, lsn, bytes, start, end) =>
        rows.push({ lsn, payload: Buffer.from(bytes.subarray(start, end)) }),
      );
      // Rows of 32 bytes to 160 KB: some span several of the socket's chunks.
      await copyOut(
        client,
        `COPY (SELECT n::bigint * 1000000007 AS lsn,
                      decode(repeat(lpad(to_hex(n), 4, '0'), CASE WHEN n % 500 = 0 THEN n * 40 ELSE n END), 'hex')
                 FROM generate_series(16, 2015) AS n ORDER BY n) TO STDOUT (FORMAT binary)`,
        (bytes, start, end) => reader.push(bytes, start, end),
      );
      expect(reader.complete).toBe(true);
      expect(rows).toHaveLength(2000);
      expect(rows[2000 - 16]?.payload).toEqual(Buffer.from('07d0'.repeat(2000 * 40), 'hex'));
      expect(rows[0]).toEqual({
        lsn: 16_000_000_112,
        payload: Buffer.from('0010'.repeat(16), 'hex'),
      });
      const last = rows[1999] as Row;
      expect(last.lsn).toBe(2015 * 1_000_000_007);
      expect(last.payload).toEqual(Buffer.from('07df'.repeat(2015), 'hex'));
    } finally {
      await client.end();
    }
  });

  it.runIf(postgres)('reads a partition back through readTail and leaves no timer behind', () =>
    withJournal(async (store) => {
      const payloads = Array.from({ length: 500 }, (_, index) => Buffer.alloc(index % 40, index));
      await store.append(
        payloads.map((payload, index) => ({ partition: 7, lsn: index + 1, payload })),
      );
      const timers = () =>
        process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
      const before = timers();
      const rows: Row[] = [];
      const last = await store.readTail(7, 100, (lsn, payload) =>
        rows.push({ lsn, payload: Buffer.from(payload) }),
      );
      expect(last).toBe(500);
      expect(rows).toEqual(
        payloads.slice(100).map((payload, index) => ({ lsn: index + 101, payload })),
      );
      // pg's query_timeout timer of the COPY is cleared once the statement is over.
      await store.ping();
      expect(timers()).toBe(before);
    }),
  );

  it.runIf(postgres)(
    'reads every row of the listed partitions through readAll, a few heap blocks a statement',
    () =>
      withJournal(async (store, admin) => {
        // Partitions 0..4 interleaved, as group commits land, 300 rows each.
        const written = Array.from({ length: 1500 }, (_, index) => ({
          partition: index % 5,
          lsn: Math.floor(index / 5) + 1,
          payload: Buffer.alloc(20 + (index % 50), index),
        }));
        for (let start = 0; start < written.length; start += 100) {
          await store.append(written.slice(start, start + 100));
        }
        const { rows: sized } = await admin.query<{ blocks: string }>(
          `SELECT pg_relation_size('ledger_wal') / current_setting('block_size')::bigint AS blocks`,
        );
        expect(Number(sized[0]?.blocks)).toBeGreaterThan(4);
        type Read = { partition: number; lsn: number; payload: Buffer };
        const readAll = async (options: ReadAllOptions) => {
          const read: Read[] = [];
          let pages = 0;
          const count = await store.readAll(
            [1, 3],
            (partition, lsn, bytes, start, end) =>
              read.push({ partition, lsn, payload: Buffer.from(bytes.subarray(start, end)) }),
            () => (pages += 1),
            options,
          );
          return { read, pages, count };
        };
        const byKey = (a: { partition: number; lsn: number }, b: typeof a) =>
          a.partition - b.partition || a.lsn - b.lsn;
        const expected = written.filter(({ partition }) => partition === 1 || partition === 3);
        expected.sort(byKey);
        const byBlocks = await readAll({ pageBlocks: 2 });
        expect(byBlocks.pages).toBe(Math.ceil(Number(sized[0]?.blocks) / 2));
        expect(byBlocks.count).toBe(600);
        expect(byBlocks.read.sort(byKey)).toEqual(expected);
        // As before PostgreSQL 14: each partition by its index, in lsn order, a page each.
        const byIndex = await readAll({ byIndex: true });
        expect(byIndex.pages).toBe(2);
        expect(byIndex.count).toBe(600);
        expect(byIndex.read).toEqual(expected);
        expect(await store.readAll([], () => undefined)).toBe(0);
      }),
  );

  it.runIf(postgres)(
    'reads the tails of many partitions through readTails, a page of each a statement',
    () =>
      withJournal(async (store) => {
        // Partitions 0..5 interleaved, 40 rows each; partition 4 lacks its lsn 20 (a gap).
        const written = Array.from({ length: 240 }, (_, index) => ({
          partition: index % 6,
          lsn: Math.floor(index / 6) + 1,
          payload: Buffer.alloc(10 + (index % 30), index),
        })).filter(({ partition, lsn }) => !(partition === 4 && lsn === 20));
        await store.append(written);
        // After a snapshot's lsn in some, from the start in one, past the end in one; 5 not asked.
        const tails = new Map([
          [0, 0],
          [1, 10],
          [2, 39],
          [3, 40],
          [4, 15],
          [9, 0],
        ]);
        const expected = written
          .filter(({ partition, lsn }) => lsn > (tails.get(partition) ?? Infinity))
          .sort((a, b) => a.partition - b.partition || a.lsn - b.lsn);
        type Read = { partition: number; lsn: number; payload: Buffer };
        const byKey = (a: Read, b: Read) => a.partition - b.partition || a.lsn - b.lsn;
        for (const pageRows of [undefined, 7, 1]) {
          const read: Read[] = [];
          const count = await store.readTails(
            tails,
            (partition, lsn, bytes, start, end) =>
              read.push({ partition, lsn, payload: Buffer.from(bytes.subarray(start, end)) }),
            pageRows === undefined ? {} : { pageRows },
          );
          expect(count).toBe(expected.length);
          expect(read.sort(byKey)).toEqual(expected);
        }
        expect(await store.readTails(new Map(), () => undefined)).toBe(0);
      }),
  );
});
