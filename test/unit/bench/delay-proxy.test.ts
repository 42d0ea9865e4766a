// The restart bench's delay proxy (bench/lib/delay-proxy.ts) stands between the ledger and
// Postgres in `--postgres-delay-ms` runs, so what it passes on is tested: every byte both ways, in
// order, however the writes split them; an end passed on; a real Postgres answering through it;
// its close ending the connections it carries; and a delay it cannot keep refused. (How long it
// holds a chunk is the bench's to measure, not a test's.)
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { startDelayProxy, throughProxy, type DelayProxy } from '../../../bench/lib/delay-proxy.js';
import { adminDatabaseUrl, havePostgres } from '../../helpers/services.js';

const postgres = await havePostgres();

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** An echo server on 127.0.0.1, and a proxy in front of it. */
async function echoBehindProxy(delayMs: number): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const echo = createServer((socket) => {
    sockets.add(socket);
    socket.pipe(socket);
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  closers.push(
    () =>
      new Promise((done) => {
        for (const socket of sockets) socket.destroy();
        echo.close(() => done());
      }),
  );
  const proxy = await startDelayProxy(
    { host: '127.0.0.1', port: (echo.address() as AddressInfo).port },
    delayMs,
  );
  closers.push(() => proxy.close());
  return proxy;
}

describe('the delay proxy', () => {
  it('passes every byte both ways in order, and the end after them', async () => {
    const proxy = await echoBehindProxy(1);
    const client = connect(proxy.port, '127.0.0.1');
    await once(client, 'connect');
    const sent = Array.from({ length: 200 }, (_, index) => randomBytes(1 + ((index * 37) % 900)));
    const received: Buffer[] = [];
    client.on('data', (chunk: Buffer) => received.push(chunk));
    for (const chunk of sent) client.write(chunk);
    client.end();
    // The echo server ends its side when the proxy passes the end on; the proxy passes that back.
    await once(client, 'end');
    expect(Buffer.concat(received)).toEqual(Buffer.concat(sent));
    client.destroy();
  });

  it('ends the connections it carries when it closes', async () => {
    const proxy = await echoBehindProxy(1);
    const client = connect(proxy.port, '127.0.0.1');
    await once(client, 'connect');
    client.write('ping');
    await once(client, 'data');
    const closed = once(client, 'close');
    await proxy.close();
    await closed;
    expect(client.destroyed).toBe(true);
  });

  it('refuses a delay it cannot keep', async () => {
    const target = { host: '127.0.0.1', port: 1 };
    await expect(startDelayProxy(target, 0)).rejects.toThrow(/whole number/);
    await expect(startDelayProxy(target, 1.5)).rejects.toThrow(/whole number/);
  });

  it.runIf(postgres)('carries a real Postgres connection', async () => {
    const admin = new URL(adminDatabaseUrl);
    const proxy = await startDelayProxy(
      { host: admin.hostname, port: Number(admin.port || 5432) },
      1,
    );
    closers.push(() => proxy.close());
    const client = new pg.Client({ connectionString: throughProxy(adminDatabaseUrl, proxy) });
    await client.connect();
    try {
      const { rows } = await client.query<{ port: string }>(
        "SELECT current_setting('port') AS port",
      );
      // The server's own port, reached through the proxy's.
      expect(Number(rows[0]?.port)).toBe(Number(admin.port || 5432));
      expect(proxy.port).not.toBe(Number(admin.port || 5432));
    } finally {
      await client.end();
    }
  });
});
