// The bench generator's own HTTP client (bench/lib/raw-http-client.ts) carries every request the
// README's figures count, so what it reads is tested against real servers over loopback: a
// node:http server for the ordinary answers, and raw sockets for answers split anywhere, cut
// off, unsized or never sent. A load thread on it is run against a server too.
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { MessageChannel } from 'node:worker_threads';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { parseBenchArguments } from '../../../bench/lib/args.js';
import runLoadTask from '../../../bench/lib/load-worker.js';
import { parseHead, RawHttpClient } from '../../../bench/lib/raw-http-client.js';
import { scenario } from '../../../bench/lib/scenarios.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function listen(server: Server | ReturnType<typeof createHttpServer>): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      closers.push(
        () =>
          new Promise((done) => {
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
            server.close(() => done());
          }),
      );
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
}

/** A raw server: each request's bytes go to `answer`, which writes what it likes on the socket. */
async function rawServer(answer: (socket: Socket, request: string, index: number) => void) {
  const sockets: Socket[] = [];
  let requests = 0;
  const server = createServer((socket) => {
    sockets.push(socket);
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = /content-length: ([0-9]+)/i.exec(received.slice(0, end))?.[1];
      const total = end + 4 + Number(length ?? 0);
      if (received.length < total) return;
      const request = received.slice(0, total);
      received = received.slice(total);
      answer(socket, request, requests);
      requests += 1;
    });
  });
  closers.push(async () => {
    for (const socket of sockets) socket.destroy();
  });
  const url = await listen(server);
  return { url, sockets };
}

function client(url: string, timeoutMs = 2000): RawHttpClient {
  const made = new RawHttpClient(url, {
    headers: { 'content-type': 'application/json' },
    timeoutMs,
  });
  closers.push(() => made.close());
  return made;
}

const okAnswer = (body: string, extra = ''): string =>
  `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('the bench generator’s own HTTP client', () => {
  it('sends a JSON POST as node:http reads it, and keeps one connection for many requests', async () => {
    const connections = new Set<unknown>();
    const server = createHttpServer((request, response: ServerResponse) => {
      connections.add(request.socket);
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        const echo = JSON.stringify({
          method: request.method,
          url: request.url,
          type: request.headers['content-type'],
          body,
        });
        // Headers set, not written ahead: node:http then sends a content-length, as uWS does.
        response.setHeader('content-type', 'application/json');
        response.end(echo);
      });
    });
    const http = client(await listen(server));
    for (let index = 0; index < 5; index += 1) {
      const body = JSON.stringify({ n: index, text: 'déjà vu ✓' });
      const answer = await http.request('POST', '/v1/reserve', body);
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.text)).toEqual({
        method: 'POST',
        url: '/v1/reserve',
        type: 'application/json',
        body,
      });
      expect(answer.retryAfter).toBeUndefined();
    }
    expect(connections.size).toBe(1);
  });

  it('reads a refusal’s status, retry-after and body', async () => {
    const body = '{"error":{"code":"overloaded"}}';
    const server = createHttpServer((_request, response) => {
      response.statusCode = 503;
      response.setHeader('retry-after', '2');
      response.setHeader('content-type', 'application/json');
      response.end(body);
    });
    const answer = await client(await listen(server)).request('POST', '/v1/reserve', '{}');
    expect(answer).toEqual({ status: 503, text: body, retryAfter: '2' });
  });

  it('reads an answer however the socket splits it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 300, unit: 'grapheme' }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 12 }),
        async (text, cuts) => {
          const bytes = Buffer.from(okAnswer(JSON.stringify({ text }), 'retry-after: 7\r\n'));
          const { url } = await rawServer((socket) => {
            // Pieces of the drawn sizes, each written on its own turn, then the rest.
            let at = 0;
            const next = (index: number): void => {
              if (at >= bytes.length) return;
              const size = index < cuts.length ? (cuts[index] as number) : bytes.length;
              socket.write(bytes.subarray(at, at + size));
              at += size;
              setTimeout(() => next(index + 1), 1);
            };
            next(0);
          });
          const http = client(url);
          const answer = await http.request('POST', '/x', '{}');
          expect(answer).toEqual({ status: 200, text: JSON.stringify({ text }), retryAfter: '7' });
          await http.close();
        },
      ),
      { numRuns: 25 },
    );
  });

  it('fails a request cut off mid-answer, and opens a new connection for the next', async () => {
    const { url, sockets } = await rawServer((socket, _request, index) => {
      if (index === 0) socket.end(okAnswer('{"a":1}').slice(0, -3));
      else socket.write(okAnswer('{"b":2}'));
    });
    const http = client(url);
    await expect(http.request('POST', '/x', '{}')).rejects.toThrow(/closed the connection/);
    expect((await http.request('POST', '/x', '{}')).text).toBe('{"b":2}');
    expect(sockets.length).toBe(2);
  });

  it('refuses chunked, unsized and over-long answers instead of guessing', async () => {
    const answers = [
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
      'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{}',
      `${okAnswer('{}')}extra`,
      'SPDY/3 200 OK\r\ncontent-length: 2\r\n\r\n{}',
    ];
    const { url, sockets } = await rawServer((socket, _request, index) => {
      socket.write(answers[index] ?? okAnswer('{"last":true}'));
    });
    const http = client(url);
    await expect(http.request('POST', '/x', '{}')).rejects.toThrow(/transfer-encoding chunked/);
    await expect(http.request('POST', '/x', '{}')).rejects.toThrow(/without content-length/);
    await expect(http.request('POST', '/x', '{}')).rejects.toThrow(/past the answer's end/);
    await expect(http.request('POST', '/x', '{}')).rejects.toThrow(/not an HTTP\/1.x status/);
    expect((await http.request('POST', '/x', '{}')).text).toBe('{"last":true}');
    // Each refusal dropped its connection: the last request came on a fifth.
    expect(sockets.length).toBe(5);
  });

  it('reconnects after an answer that says connection: close', async () => {
    const { url, sockets } = await rawServer((socket) => {
      socket.write(okAnswer('{}', 'connection: close\r\n'));
    });
    const http = client(url);
    expect((await http.request('GET', '/health/live')).status).toBe(200);
    expect((await http.request('GET', '/health/live')).status).toBe(200);
    expect(sockets.length).toBe(2);
  });

  it('fails a request never answered within its timeout, and one sent while another is in flight', async () => {
    const { url } = await rawServer(() => undefined);
    const http = client(url, 100);
    const first = http.request('POST', '/x', '{}');
    await expect(http.request('POST', '/x', '{}')).rejects.toThrow(/in flight/);
    await expect(first).rejects.toThrow(/no answer within 100 ms/);
  });

  it('fails a request in flight when it is closed, and every request after', async () => {
    const { url } = await rawServer(() => undefined);
    const http = client(url);
    const pending = http.request('POST', '/x', '{}');
    await http.close();
    await expect(pending).rejects.toThrow(/was closed/);
    await expect(http.request('POST', '/x', '{}')).rejects.toThrow(/is closed/);
  });

  it('takes a 204 without content-length as empty, and refuses a header with a line break', () => {
    const head = Buffer.from('HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n');
    expect(parseHead(head, head.indexOf('\r\n\r\n'))).toMatchObject({ status: 204, bodyBytes: 0 });
    const options = { headers: { authorization: 'Bearer a\r\nx: y' }, timeoutMs: 10 };
    expect(() => new RawHttpClient('http://127.0.0.1:1', options)).toThrow(/line break/);
  });
});

describe('--client', () => {
  it('is the bench’s own client unless undici is asked for, and nothing else', () => {
    expect(parseBenchArguments([])?.client).toBe('raw');
    expect(parseBenchArguments(['--client', 'undici'])?.client).toBe('undici');
    expect(() => parseBenchArguments(['--client', 'fetch'])).toThrow(/raw or undici/);
  });
});

describe('a load thread on the bench’s own client', () => {
  it('counts, times and tallies every answer of a hot-SKU load', async () => {
    let served = 0;
    const server = createHttpServer((request, response) => {
      request.resume();
      request.on('end', () => {
        served += 1;
        const body = JSON.stringify({ reservation_id: `r-${served}`, status: 'PENDING' });
        response.setHeader('content-type', 'application/json');
        response.end(body);
      });
    });
    const url = await listen(server);
    const { port1, port2 } = new MessageChannel();
    port1.on('message', () => undefined);
    const now = Date.now();
    const result = await runLoadTask({
      baseUrls: [url],
      firstConnection: 0,
      scenario: scenario('hot-sku', { soldOutStock: 1 }),
      connections: 4,
      threadIndex: 0,
      idempotencyPrefix: 'test-',
      authorization: undefined,
      startAtMs: now + 50,
      measureFromMs: now + 250,
      endAtMs: now + 1250,
      requestTimeoutMs: 2000,
      client: 'raw',
      progress: port2,
    });
    port1.close();
    const measured = result.statusCounts['reserve 200'] ?? 0;
    const warmup = result.warmupStatusCounts['reserve 200'] ?? 0;
    expect(measured).toBeGreaterThan(0);
    expect(result.errors).toEqual({});
    expect(result.unexpected).toBe(0);
    // Every answer the server sent was read and tallied: nothing is left in flight at the end.
    expect(measured + warmup).toBe(served);
    expect(result.tallies.reserved[0]).toBe(served);
  });
});
