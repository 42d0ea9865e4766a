// Proves the server survives hostile bytes on raw sockets (node:net): fast-check generates
// request lines, headers, framings (content-length wrong, negative, doubled; chunked broken),
// bodies sent at once or dribbled slowly, and clients that hang up mid-request. Every answer is
// a 4xx or the connection is closed unanswered; a cut-off request never applies; the watched key
// never changes; and the server keeps serving.
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOptions } from '../helpers/fc-options.js';
import { get, post } from '../helpers/http.js';
import { sleep } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';
import { knob, report } from '../helpers/soak.js';
import { WatchedLedger } from './watched-ledger.js';

const runs = knob('SOAK_HOSTILE_RUNS', 150, 5_000);

interface Delivery {
  /** The bytes, in the pieces they are written in. */
  readonly pieces: readonly Buffer[];
  /** Pause between pieces (a slow client). */
  readonly gapMs: number;
  /** Hang up right after the last piece instead of waiting for an answer. */
  readonly hangUp: boolean;
}

/** True once `answer` holds a whole response (headers and a content-length body). */
function complete(answer: string): boolean {
  const end = answer.indexOf('\r\n\r\n');
  // The head with its last CRLF: uWS writes content-length last, and `\r$` needs that CRLF.
  const length = /^content-length: (\d+)\r$/im.exec(answer.slice(0, end + 2));
  return end >= 0 && length !== null && answer.length - end - 4 >= Number(length[1]);
}

/** How a delivery ended: the server closed, a whole answer came, the client hung up, etc. */
type Ending = 'closed' | 'answered' | 'hung up' | 'silent' | 'deadline';

interface Delivered {
  readonly answer: string;
  readonly ending: Ending;
}

interface Listening {
  /**
   * Stop at the first whole response (headers and content-length body) rather than at the
   * server's close. Bytes that follow it closely (a second, pipelined answer) are still collected.
   */
  readonly untilAnswered: boolean;
  /**
   * Only where no answer at all is an allowed outcome (hostile bytes the parser waits on
   * forever): stop when not one byte came this long after the last piece was written. It ends
   * the observation, never decides success: a late answer is only not looked at.
   */
  readonly silenceMs?: number;
}

/**
 * The safety net, not the success criterion: the server answers or closes long before (uWS drops
 * an idle socket after about 10 s). It turns a hung server into a failure that says so.
 */
const deliveryDeadlineMs = 20_000;
/**
 * Hostile bytes the parser waits on forever (a bad version, a body shorter than declared) get
 * no answer and no close: after this long without a byte, the test moves on. Many times the
 * usual answer time, so that even on a busy box a refusal is rarely left unread; an unread one
 * does not fail the test, since the watched state is checked after every request anyway.
 */
const hostileSilenceMs = 300;
/** After a whole answer: how long to keep collecting in case a pipelined second answer follows. */
const lingerMs = 30;

/**
 * Writes the pieces, then collects the answer until the server closes, or as `listening` says.
 */
function deliver(port: number, delivery: Delivery, listening: Listening): Promise<Delivered> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let ending: Ending = 'closed';
    let written = false;
    let window: NodeJS.Timeout | undefined;
    const stop = (why: Ending) => {
      ending = why;
      socket.destroy();
    };
    const deadline = setTimeout(() => stop('deadline'), deliveryDeadlineMs);
    // (Re)arms the one short window that may apply now; none while anything is unanswered.
    const watch = () => {
      clearTimeout(window);
      if (!written) return;
      if (listening.untilAnswered && complete(answer)) {
        window = setTimeout(() => stop('answered'), lingerMs);
      } else if (answer === '' && listening.silenceMs !== undefined) {
        window = setTimeout(() => stop('silent'), listening.silenceMs);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      watch();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(deadline);
      clearTimeout(window);
      resolve({ answer, ending });
    });
    socket.on('connect', async () => {
      for (const piece of delivery.pieces) {
        if (socket.destroyed) return;
        socket.write(piece);
        if (delivery.gapMs > 0) await sleep(delivery.gapMs);
      }
      if (delivery.hangUp) {
        stop('hung up');
        return;
      }
      written = true;
      watch();
    });
  });
}

function statusCodes(answer: string): number[] {
  return [...answer.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)].map((match) => Number(match[1]));
}

/** Splits bytes into 1..n pieces at random cut points. */
function piecesOf(bytes: Buffer): fc.Arbitrary<Buffer[]> {
  return fc
    .uniqueArray(fc.integer({ min: 1, max: Math.max(1, bytes.length - 1) }), { maxLength: 6 })
    .map((cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
      const pieces: Buffer[] = [];
      for (let index = 1; index < points.length; index += 1) {
        const piece = bytes.subarray(points[index - 1], points[index]);
        if (piece.length > 0) pieces.push(piece);
      }
      return pieces;
    });
}

function request(head: string, headers: string[], body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${head}\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

describe.runIf(await havePostgres())('hostile bytes on raw sockets', () => {
  let watched: WatchedLedger;
  const outcomes = { answered: 0, closedUnanswered: 0, leftUnanswered: 0, hungUp: 0 };
  const startedMs = Date.now();

  beforeAll(async () => {
    watched = await WatchedLedger.start(`sockets-${process.pid}`);
  });

  afterAll(async () => {
    report({
      test: 'hostile raw sockets',
      seconds: (Date.now() - startedMs) / 1000,
      counts: outcomes,
    });
    await watched?.stop();
  });

  /** A body no route accepts: zero delta, no quantity, no reservation id. */
  function refusedBody(): fc.Arbitrary<Buffer> {
    const base = { ...watched.stock, delta: 0, reason: 'x', idempotency_key: 'r'.repeat(20) };
    return fc.oneof(
      fc.constant(Buffer.from(JSON.stringify(base))),
      fc.jsonValue({ maxDepth: 4 }).map((value) => Buffer.from(JSON.stringify(value))),
      fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
      fc
        .integer({ min: 1, max: 3_000 })
        .map((depth) => Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`)),
      fc
        .integer({ min: 16_400, max: 30_000 })
        .map((size) => Buffer.from(`{"pad":"${'x'.repeat(size)}"}`)),
    );
  }

  /**
   * A request that is well-formed HTTP but for one hostile dimension (or none, leaving only the
   * body), so that both the HTTP parser and the ledger's own code meet each kind of garbage.
   */
  function hostileRequest(): fc.Arbitrary<Buffer> {
    const method = fc.oneof(
      fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'post', 'P0ST', ''),
      fc.string({ unit: 'binary-ascii', maxLength: 10 }),
    );
    const target = fc.oneof(
      fc.constantFrom('/', '*', '/v1/../v1/reserve', 'http://evil/v1/reserve', '/v1/reserve?x=1'),
      fc.string({ unit: 'binary-ascii', maxLength: 40 }).map((text) => `/${text}`),
      fc.integer({ min: 1_000, max: 20_000 }).map((size) => `/${'a'.repeat(size)}`),
    );
    const version = fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'http/1.1', 'HTTP/1.1 x', '');
    const junkHeader = fc.oneof(
      fc.constantFrom(
        'x-a: \u0000',
        'bad header: 1',
        ': empty',
        'x-b',
        `x-big: ${'b'.repeat(9_000)}`,
        'x-lf: a\nb: c',
        'content-type: text/plain',
      ),
      fc
        .tuple(
          fc.stringMatching(/^[a-z-]{1,20}$/),
          fc.string({ unit: 'binary-ascii', maxLength: 60 }),
        )
        .map(([name, value]) => `${name}: ${value}`),
    );
    const framings = fc.constantFrom(
      'none',
      'negative',
      'nan',
      'short',
      'long',
      'double',
      'huge',
      'bad-chunked',
      'both',
    );
    const hostility = fc.oneof(
      fc.constant({ kind: 'body only' } as const),
      fc.constant({ kind: 'chunked' } as const),
      method.map((value) => ({ kind: 'method', value }) as const),
      target.map((value) => ({ kind: 'target', value }) as const),
      version.map((value) => ({ kind: 'version', value }) as const),
      fc.constant({ kind: 'no host' } as const),
      fc.constant({ kind: 'not json' } as const),
      fc
        .array(junkHeader, { minLength: 1, maxLength: 3 })
        .map((value) => ({ kind: 'junk', value }) as const),
      framings.map((value) => ({ kind: 'framing', value }) as const),
    );
    const route = fc.constantFrom('/v1/reserve', '/v1/confirm', '/v1/release', '/v1/stock/adjust');
    return fc
      .record({ hostility, route, close: fc.boolean(), body: refusedBody() })
      .map(({ hostility, route, close, body }) => {
        const method = hostility.kind === 'method' ? hostility.value : 'POST';
        const target = hostility.kind === 'target' ? hostility.value : route;
        const version = hostility.kind === 'version' ? hostility.value : 'HTTP/1.1';
        const headers: string[] = [];
        if (hostility.kind !== 'no host') headers.push('host: ledger');
        if (hostility.kind !== 'not json') headers.push('content-type: application/json');
        const kind =
          hostility.kind === 'framing'
            ? hostility.value
            : hostility.kind === 'chunked'
              ? 'chunked'
              : 'exact';
        const framed = framing(kind, body.length, body);
        headers.push(...framed.headers);
        if (hostility.kind === 'junk') headers.push(...hostility.value);
        if (close) headers.push('connection: close');
        return request(`${method} ${target} ${version}`.trimEnd(), headers, framed.body);
      });
  }

  function framing(
    kind: string,
    length: number,
    body: Buffer,
  ): { headers: string[]; body: Buffer } {
    const chunked = (size: string) =>
      Buffer.concat([Buffer.from(`${size}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
    switch (kind) {
      case 'exact':
        return { headers: [`content-length: ${length}`], body };
      case 'none':
        return { headers: [], body };
      case 'negative':
        return { headers: ['content-length: -1'], body };
      case 'nan':
        return { headers: ['content-length: 1e3'], body };
      case 'short':
        return { headers: [`content-length: ${Math.max(0, length - 3)}`], body };
      case 'long':
        return { headers: [`content-length: ${length + 5}`], body };
      case 'double':
        return { headers: ['content-length: 0', `content-length: ${length}`], body };
      case 'huge':
        return { headers: ['content-length: 99999999999999999999'], body };
      case 'chunked':
        return { headers: ['transfer-encoding: chunked'], body: chunked(length.toString(16)) };
      case 'bad-chunked':
        return { headers: ['transfer-encoding: chunked'], body: chunked('zz') };
      default:
        return {
          headers: [`content-length: ${length}`, 'transfer-encoding: chunked'],
          body: chunked(length.toString(16)),
        };
    }
  }

  it('answers hostile bytes with a 4xx or a closed connection, and changes nothing', async () => {
    const property = fc.asyncProperty(
      hostileRequest().chain((bytes) =>
        fc.record({
          bytes: fc.constant(bytes),
          pieces: piecesOf(bytes),
          gapMs: fc.constantFrom(0, 0, 0, 2, 15),
          hangUp: fc.oneof(
            { weight: 4, arbitrary: fc.constant(false) },
            { weight: 1, arbitrary: fc.constant(true) },
          ),
        }),
      ),
      async ({ bytes, pieces, gapMs, hangUp }) => {
        const request = JSON.stringify(bytes.toString('latin1').slice(0, 300));
        await watched.around(`after ${request}`, async () => {
          const { answer, ending } = await deliver(
            watched.port,
            { pieces: gapMs === 0 ? [bytes] : pieces, gapMs, hangUp },
            { untilAnswered: true, silenceMs: hostileSilenceMs },
          );
          const codes = statusCodes(answer);
          if (hangUp) outcomes.hungUp += 1;
          else if (codes.length > 0) outcomes.answered += 1;
          else if (ending === 'silent') outcomes.leftUnanswered += 1;
          else outcomes.closedUnanswered += 1;
          expect(ending, `${request}: the server neither answered nor closed`).not.toBe('deadline');
          for (const code of codes) {
            expect(code >= 400 && code < 500, `${code} to ${request}`).toBe(true);
          }
        });
      },
    );
    await fc.assert(property, runOptions(runs));
  }, 120_000);

  it('never applies a valid request whose client hangs up before sending all of it', async () => {
    const adjust = JSON.stringify({
      ...watched.stock,
      delta: 1,
      reason: 'cut',
      idempotency_key: 'c'.repeat(20),
    });
    const reserve = JSON.stringify({
      ...watched.stock,
      quantity: 1,
      idempotency_key: 'd'.repeat(20),
    });
    const whole = (path: string, body: string) =>
      request(
        `POST ${path} HTTP/1.1`,
        ['host: ledger', 'content-type: application/json', `content-length: ${body.length}`],
        Buffer.from(body),
      );
    const requests = [whole('/v1/stock/adjust', adjust), whole('/v1/reserve', reserve)];
    const property = fc.asyncProperty(
      fc
        .constantFrom(...requests)
        .chain((bytes) =>
          fc.record({
            // A strict prefix: at least the last byte is never sent.
            cut: fc.integer({ min: 0, max: bytes.length - 1 }).map((end) => bytes.subarray(0, end)),
            gapMs: fc.constantFrom(0, 3, 20),
          }),
        )
        .chain(({ cut, gapMs }) => piecesOf(cut).map((pieces) => ({ pieces, gapMs }))),
      async ({ pieces, gapMs }) => {
        const sent = pieces.reduce((total, piece) => total + piece.length, 0);
        await watched.around(`after the first ${sent} bytes of a valid request`, async () => {
          const { answer } = await deliver(
            watched.port,
            { pieces, gapMs, hangUp: true },
            { untilAnswered: false },
          );
          const early = statusCodes(answer).filter((code) => code < 400);
          expect(early, 'an answer to half a request').toEqual([]);
          await sleep(5);
        });
      },
    );
    await fc.assert(property, runOptions(Math.ceil(runs / 2)));
  }, 120_000);

  it('reassembles a valid request dribbled in slowly, and answers it once', async () => {
    const stock = { product_id: `slow-${process.pid}`, warehouse_id: 'wh-1' };
    let expected = 0;
    const property = fc.asyncProperty(
      fc.integer({ min: 1, max: 9 }),
      fc.constantFrom(1, 10, 40),
      async (delta, gapMs) => {
        const body = JSON.stringify({ ...stock, delta });
        const bytes = request(
          'POST /v1/stock/adjust HTTP/1.1',
          [
            'host: ledger',
            'content-type: application/json',
            `content-length: ${body.length}`,
            'connection: close',
          ],
          Buffer.from(body),
        );
        const pieces = [...Array(Math.min(6, bytes.length)).keys()].map((index, _, all) =>
          bytes.subarray(
            Math.floor((index * bytes.length) / all.length),
            Math.floor(((index + 1) * bytes.length) / all.length),
          ),
        );
        // `connection: close`: the server's close says that every answer it will give is here.
        const { answer, ending } = await deliver(
          watched.port,
          { pieces, gapMs, hangUp: false },
          { untilAnswered: false },
        );
        expect(ending, answer).toBe('closed');
        expect(statusCodes(answer)).toEqual([200]);
        expected += delta;
        const read = await get(
          watched.baseUrl,
          `/v1/stock/${stock.product_id}/${stock.warehouse_id}`,
        );
        expect(read.body.on_hand).toBe(expected);
      },
    );
    await fc.assert(property, runOptions(8));
  }, 60_000);

  it('refuses two content-length headers, and runs nothing smuggled in the body', async () => {
    const victim = { product_id: `smuggled-${process.pid}`, warehouse_id: 'wh-1' };
    const inner = JSON.stringify({ ...victim, delta: 7 });
    const smuggled = request(
      'POST /v1/stock/adjust HTTP/1.1',
      ['host: ledger', 'content-type: application/json', `content-length: ${inner.length}`],
      Buffer.from(inner),
    ).toString('latin1');
    const framings = [
      ['content-length: 0', `content-length: ${smuggled.length}`],
      [`content-length: ${smuggled.length}`, 'content-length: 0'],
      ['content-length: 0', `transfer-encoding: chunked`],
    ];
    for (const framing of framings) {
      const { answer, ending } = await deliver(
        watched.port,
        {
          pieces: [
            request(
              'POST /v1/reserve HTTP/1.1',
              ['host: ledger', 'content-type: application/json', ...framing],
              Buffer.from(smuggled),
            ),
          ],
          gapMs: 0,
          hangUp: false,
        },
        { untilAnswered: false },
      );
      // The server's close (it cuts such a request at once) ends the exchange, not a pause.
      expect(ending, answer).toBe('closed');
      for (const code of statusCodes(answer)) expect(code, answer).toBeGreaterThanOrEqual(400);
      const read = await get(
        watched.baseUrl,
        `/v1/stock/${victim.product_id}/${victim.warehouse_id}`,
      );
      expect(read.status, `${framing.join(', ')}: the smuggled adjust ran`).toBe(404);
    }
  }, 30_000);

  it('keeps serving after all of it', async () => {
    await watched.expectUnchanged('at the end');
    await watched.expectServing();
    const again = await post(watched.baseUrl, '/v1/stock/adjust', { ...watched.stock, delta: 0 });
    expect(again.status).toBe(422);
  });
});
