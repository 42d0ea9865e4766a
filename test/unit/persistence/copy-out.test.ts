// Proves copyOut hands over exactly a COPY's data, as ranges of what the socket read, however
// the socket's chunks cut the backend's messages (fast-check, on a stream fed by hand: header
// cut, messages skipped, the rest handed back to pg byte for byte); and on a real Postgres: the
// same bytes as pg-copy-streams for rows up to 300 KB, notices in between, and after a failed
// statement (at its start or halfway), a throwing reader, pg's query timeout or a statement that
// is not a COPY TO STDOUT (a query, an empty one, a COPY FROM STDIN), the error and a
// connection that still answers; a backend ended halfway through fails the copy instead of
// leaving it waiting; and a socket with other readers than pg's is refused before anything is
// sent.
import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { describe, expect, it } from 'vitest';
import { CopyOutQuery, copyOut } from '../../../src/persistence/copy-out.js';
import { cutAt } from '../../helpers/byte-cuts.js';
import { runOptions } from '../../helpers/fc-options.js';
import { adminDatabaseUrl, havePostgres } from '../../helpers/services.js';

const postgres = await havePostgres();

/** A backend message: its code, its length (counting itself), its bytes. */
function message(code: string, content: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header.write(code, 0, 'latin1');
  header.writeInt32BE(content.length + 4, 1);
  return Buffer.concat([header, content]);
}

/** What pg's connection looks like to a query: a socket with pg's one data listener. */
function fakeConnection() {
  const stream = new EventEmitter();
  const toPg: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => toPg.push(Buffer.from(chunk)));
  const sent: string[] = [];
  const connection = { stream, sent, query: (text: string) => sent.push(text) };
  return { connection, stream, toPg, sent };
}

describe('copyOut', () => {
  it('hands over every CopyData byte and gives pg the rest, whatever the chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.boolean(),
        (contents, offsets, fails) => {
          const data = contents.map((content) => message('d', content));
          // A notice between the rows, as a RAISE NOTICE of the query would send.
          data.splice(data.length >> 1, 0, message('N', Buffer.from('SNOTICE\0\0')));
          const end = fails
            ? [message('E', Buffer.from('SERROR\0\0')), message('Z', Buffer.from('I'))]
            : [
                message('c', new Uint8Array(0)),
                message('C', Buffer.from('COPY 3\0')),
                message('Z', Buffer.from('I')),
              ];
          const rest = Buffer.concat(fails ? end : end.slice(1));
          const backend = Buffer.concat([message('H', Buffer.from([1, 0, 0])), ...data, ...end]);
          const { connection, stream, toPg, sent } = fakeConnection();
          const pieces: Buffer[] = [];
          const query = new CopyOutQuery('COPY x TO STDOUT', (bytes, start, stop) => {
            expect(0 <= start && start <= stop && stop <= bytes.length).toBe(true);
            pieces.push(Buffer.from(bytes.subarray(start, stop)));
          });
          query.submit(connection as unknown as pg.Connection);
          expect(sent).toEqual(['COPY x TO STDOUT']);
          for (const chunk of cutAt(backend, offsets)) stream.emit('data', chunk);
          expect(Buffer.concat(pieces)).toEqual(Buffer.concat(contents));
          expect(Buffer.concat(toPg)).toEqual(rest);
          expect(stream.listenerCount('data')).toBe(1);
        },
      ),
      runOptions(300),
    );
  });

  it('refuses a connection whose socket has other readers than pg', () => {
    const { connection, stream } = fakeConnection();
    stream.on('data', () => undefined);
    const query = new CopyOutQuery('COPY x TO STDOUT', () => undefined);
    expect(() => query.submit(connection as unknown as pg.Connection)).toThrow(
      'a pg connection with 2 data listeners, not 1',
    );
    // Nothing was sent, and pg's listeners are as they were.
    expect(connection.sent).toEqual([]);
    expect(stream.listenerCount('data')).toBe(2);
  });

  it.runIf(postgres)('gives the bytes pg-copy-streams gives, notices skipped', async () => {
    const client = new pg.Client({ connectionString: adminDatabaseUrl });
    await client.connect();
    try {
      await client.query(`CREATE FUNCTION pg_temp.noisy(n integer) RETURNS integer AS $$
        BEGIN IF n % 100 = 0 THEN RAISE NOTICE 'row %', n; END IF; RETURN n; END
        $$ LANGUAGE plpgsql`);
      // Rows of 1 byte to 300 KB, with binary COPY's framing around them.
      const sql = `COPY (SELECT pg_temp.noisy(n), repeat(chr(65 + n % 26), CASE WHEN n % 250 = 0
                     THEN n * 300 ELSE n END) FROM generate_series(1, 1000) AS n)
                   TO STDOUT (FORMAT binary)`;
      const reference: Buffer[] = [];
      for await (const chunk of client.query(copyTo(sql))) reference.push(chunk as Buffer);
      const pieces: Buffer[] = [];
      await copyOut(client, sql, (bytes, start, end) =>
        pieces.push(Buffer.from(bytes.subarray(start, end))),
      );
      expect(pieces.length).toBeGreaterThan(1000);
      expect(Buffer.concat(pieces)).toEqual(Buffer.concat(reference));
      expect((await client.query('SELECT 41 + 1 AS n')).rows).toEqual([{ n: 42 }]);
    } finally {
      await client.end();
    }
  });

  it.runIf(postgres)(
    'fails as the statement, the reader or pg fail; the connection answers',
    async () => {
      const client = new pg.Client({ connectionString: adminDatabaseUrl, query_timeout: 300 });
      await client.connect();
      const answers = async () => (await client.query('SELECT 1 AS one')).rows[0];
      let pieces = 0;
      const count = () => {
        pieces += 1;
      };
      try {
        // At its start, and halfway through its rows.
        await expect(copyOut(client, 'COPY (SELECT 1 / 0) TO STDOUT', count)).rejects.toThrow(
          'division by zero',
        );
        await expect(answers()).resolves.toEqual({ one: 1 });
        await expect(
          copyOut(
            client,
            `COPY (SELECT 1 / (n - 5000) FROM generate_series(1, 9000) AS n) TO STDOUT`,
            count,
          ),
        ).rejects.toThrow('division by zero');
        expect(pieces).toBeGreaterThan(0);
        await expect(answers()).resolves.toEqual({ one: 1 });
        // A reader that throws: its error, once the statement was read to the end.
        const thrown = new Error('the reader refused');
        let calls = 0;
        await expect(
          copyOut(client, 'COPY (SELECT generate_series(1, 50000)) TO STDOUT', () => {
            calls += 1;
            throw thrown;
          }),
        ).rejects.toBe(thrown);
        expect(calls).toBe(1);
        await expect(answers()).resolves.toEqual({ one: 1 });
        // pg's query timeout: its error at once; the statement still ends on the connection.
        await expect(copyOut(client, 'COPY (SELECT pg_sleep(1)) TO STDOUT', count)).rejects.toThrow(
          'Query read timeout',
        );
        await new Promise((resolve) => setTimeout(resolve, 1200));
        await expect(answers()).resolves.toEqual({ one: 1 });
        // Not a COPY TO STDOUT: a query, an empty statement, a COPY the other way (refused
        // with a CopyFail, so nothing is written).
        await expect(copyOut(client, 'SELECT 1', count)).rejects.toThrow('COPY ... TO STDOUT only');
        await expect(answers()).resolves.toEqual({ one: 1 });
        await expect(copyOut(client, '', count)).rejects.toThrow('COPY ... TO STDOUT only');
        await expect(answers()).resolves.toEqual({ one: 1 });
        await client.query('CREATE TEMP TABLE copied_in (n integer)');
        await expect(copyOut(client, 'COPY copied_in FROM STDIN', count)).rejects.toThrow(
          'COPY ... TO STDOUT only',
        );
        await expect(answers()).resolves.toEqual({ one: 1 });
        const copiedIn = await client.query('SELECT count(*)::int AS n FROM copied_in');
        expect(copiedIn.rows).toEqual([{ n: 0 }]);
      } finally {
        await client.end();
      }
    },
  );

  it.runIf(postgres)(
    'fails, and does not hang, when the server ends the connection halfway through',
    async () => {
      const client = new pg.Client({ connectionString: adminDatabaseUrl });
      const admin = new pg.Client({ connectionString: adminDatabaseUrl });
      client.on('error', () => undefined);
      await Promise.all([client.connect(), admin.connect()]);
      try {
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        let pieces = 0;
        let terminated: Promise<unknown> | undefined;
        // A row a millisecond for 20 s: the backend is ended after the first rows came.
        const copying = copyOut(
          client,
          'COPY (SELECT n, pg_sleep(0.001) FROM generate_series(1, 20000) AS n) TO STDOUT',
          () => {
            pieces += 1;
            terminated ??= admin.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
          },
        );
        await expect(copying).rejects.toThrow(/terminat/i);
        await terminated;
        expect(pieces).toBeGreaterThan(0);
        expect(pieces).toBeLessThan(20_000);
      } finally {
        await admin.end();
        await client.end().catch(() => undefined);
      }
    },
  );
});
