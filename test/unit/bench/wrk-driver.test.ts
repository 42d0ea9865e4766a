// `npm run bench -- --generator wrk`: its figures sit beside the bench's own generator's in the
// README, so what it sends and how its output becomes the bench's figures is tested: the Lua
// script against a real wrk and a small HTTP server, the parsing and the histogram directly.
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBenchArguments } from '../../../bench/lib/args.js';
import { scenario } from '../../../bench/lib/scenarios.js';
import {
  correctLikeWrk,
  undoWrkCorrection,
  wrkInterval,
} from '../../../bench/lib/coordinated-omission.js';
import {
  distributionsOf,
  histogramOf,
  parseWrkOutput,
  WrkGenerator,
  wrkPath,
  type WrkOutcome,
} from '../../../bench/lib/wrk-driver.js';

const servicesRequired = process.env.LEDGER_REQUIRE_SERVICES === '1';
const wrk = wrkPath();
if (wrk === undefined && servicesRequired) {
  throw new Error('wrk is required (LEDGER_REQUIRE_SERVICES=1) but was not found');
}

const outcome = (latency: [number, number][], extra: Partial<WrkOutcome> = {}): WrkOutcome => ({
  requests: latency.reduce((sum, [, count]) => sum + count, 0),
  issued: 0,
  durationUs: 1_000_000,
  connect: 0,
  read: 0,
  write: 0,
  status: 0,
  timeout: 0,
  latency,
  ...extra,
});

describe("wrk's output", () => {
  it('is read from the WRK-RESULT line whatever wrk printed around it', () => {
    const line = JSON.stringify(outcome([[1200, 3]], { issued: 5 }));
    const parsed = parseWrkOutput(`Running 1s test\n  1 threads\nWRK-RESULT ${line}\nmore\n`);
    expect(parsed).toMatchObject({ requests: 3, issued: 5, latency: [[1200, 3]] });
    expect(() => parseWrkOutput('Running 1s test\n')).toThrow(/no WRK-RESULT/);
    expect(() => parseWrkOutput('WRK-RESULT {"requests":"x"}')).toThrow(/not what/);
  });

  it('becomes the same HDR histogram the bench generator fills, value by value', () => {
    // 98 answers at 1 ms, one at 20 ms, one at 90 ms: p50 1 ms, p99 20 ms, max 90 ms.
    const histogram = histogramOf(
      new Map([
        [1000, 98],
        [20_000, 1],
        [90_000, 1],
      ]),
    );
    expect(histogram.totalCount).toBe(100);
    expect(histogram.getValueAtPercentile(50)).toBeCloseTo(1000, -1);
    expect(histogram.getValueAtPercentile(99)).toBeCloseTo(20_000, -2);
    expect(histogram.maxValue).toBeCloseTo(90_000, -2);
  });
});

describe("wrk's correction for coordinated omission", () => {
  it('adds, for an answer of n µs, one sample every interval below it, as wrk does', () => {
    // 4 connections, 100 answers in 1 s: 25 per connection, one every 40,000 µs.
    const interval = wrkInterval(1_000_000, 100, 4);
    expect(interval).toBe(40_000);
    const corrected = correctLikeWrk(new Map([[130_000, 2]]), 40_000);
    // 130 ms → 90 and 50 ms (10 ms is below the interval): twice each.
    expect([...corrected].sort((a, b) => a[0] - b[0])).toEqual([
      [50_000, 2],
      [90_000, 2],
      [130_000, 2],
    ]);
    expect(correctLikeWrk(new Map([[79_999, 1]]), 40_000).size).toBe(1);
    expect(wrkInterval(1_000_000, 3, 4)).toBeNull();
  });

  it('is undone exactly: what wrk timed comes back from what it printed', () => {
    const sample = fc.array(
      fc.tuple(fc.integer({ min: 1, max: 400_000 }), fc.integer({ min: 1, max: 50 })),
      {
        minLength: 1,
        maxLength: 60,
      },
    );
    fc.assert(
      fc.property(sample, fc.integer({ min: 500, max: 50_000 }), (pairs, interval) => {
        const timed = new Map<number, number>();
        for (const [value, count] of pairs) timed.set(value, (timed.get(value) ?? 0) + count);
        const back = undoWrkCorrection(correctLikeWrk(timed, interval), interval);
        expect(new Map([...back].sort((a, b) => a[0] - b[0]))).toEqual(
          new Map([...timed].sort((a, b) => a[0] - b[0])),
        );
      }),
    );
  });

  it('refuses a distribution no correction could have made', () => {
    // 130 ms with interval 40 ms must come with samples at 90 and 50 ms.
    expect(() => undoWrkCorrection(new Map([[130_000, 1]]), 40_000)).toThrow(/not a distribution/);
  });

  it("reads wrk's run back to one sample per answer, or says it cannot", () => {
    const printed = correctLikeWrk(
      new Map([
        [1000, 99],
        [130_000, 1],
      ]),
      40_000,
    );
    const run = outcome([...printed], { requests: 100, durationUs: 1_000_000 });
    expect(distributionsOf(run, 4).timed).toEqual(
      new Map([
        [1000, 99],
        [130_000, 1],
      ]),
    );
    expect(() => distributionsOf({ ...run, requests: 101 }, 4)).toThrow(/not 101/);
  });
});

describe('--generator', () => {
  it('is bench by default, and wrk runs only the hot-sku scenario', () => {
    expect(parseBenchArguments([])?.generator).toBe('bench');
    expect(parseBenchArguments(['--generator', 'wrk'])?.generator).toBe('wrk');
    expect(() => parseBenchArguments(['--generator', 'wrk', '--compare'])).toThrow(/hot-sku/);
    expect(() => parseBenchArguments(['--generator', 'ab'])).toThrow(/bench or wrk/);
  });
});

interface Received {
  readonly bodies: Record<string, unknown>[];
  readonly authorizations: (string | undefined)[];
}

/** Answers every reserve 200, except every tenth 409, like a server that refuses some. */
function reserveServer(received: Received) {
  return createServer((request: IncomingMessage, response) => {
    let text = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (text += chunk));
    request.on('end', () => {
      received.bodies.push(JSON.parse(text) as Record<string, unknown>);
      received.authorizations.push(request.headers.authorization);
      response.statusCode = received.bodies.length % 10 === 0 ? 409 : 200;
      response.setHeader('content-type', 'application/json');
      response.end('{}');
    });
  });
}

describe.skipIf(wrk === undefined)('a wrk load against a real HTTP server', () => {
  const received: Received = { bodies: [], authorizations: [] };
  const server = reserveServer(received);
  let baseUrl = '';

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('sends one reserve of the hot key per request, each with a key of its own', async () => {
    const calls: string[] = [];
    const generator = new WrkGenerator(2, wrk ?? 'wrk');
    const result = await generator.run({
      label: 'test',
      baseUrl,
      scenario: scenario('hot-sku', { soldOutStock: 1 }),
      connections: 4,
      warmupSeconds: 1,
      durationSeconds: 1,
      authorization: 'Bearer token-1',
      onMeasureStart: () => void calls.push('start'),
      onMeasureEnd: () => void calls.push('end'),
    });
    expect(calls).toEqual(['start', 'end']);
    const keys = received.bodies.map((body) => body.idempotency_key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(received.bodies[0]).toMatchObject({
      product_id: 'hot-sku',
      warehouse_id: 'bench-wh',
      quantity: 1,
    });
    expect(new Set(received.authorizations)).toEqual(new Set(['Bearer token-1']));
    // Every 200 read is counted, every 409 is an unexpected answer, and what the server got
    // beyond the answers read is at most the requests wrk left in flight when it stopped.
    const answered = result.tallies.reserved[0] ?? 0;
    expect(answered).toBeGreaterThan(0);
    expect(result.unexpected).toBeGreaterThan(0);
    const unread = received.bodies.length - answered - result.unexpected;
    expect(unread).toBeGreaterThanOrEqual(0);
    expect(unread).toBeLessThanOrEqual(result.unresolved ?? 0);
    // The histogram holds every answer of the measured run, whatever its status.
    const measured = (result.statusCounts['reserve 200'] ?? 0) + nonOk(result);
    expect(result.latency.count).toBe(measured);
  });

  it('reads a spread too wide to walk value by value at quantiles, and says so', async () => {
    const script = fileURLToPath(new URL('../../../bench/lib/wrk-reserve.lua', import.meta.url));
    const args = ['-t', '1', '-c', '4', '-d', '1s', '-s', script, baseUrl];
    const { stdout } = await promisify(execFile)(wrk ?? 'wrk', [...args, '--', 'p', 'w', 'q', ''], {
      env: { ...process.env, WRK_RESERVE_WALK_BUDGET: '0' },
    });
    const outcome = parseWrkOutput(stdout);
    expect(outcome.approximate).toBe(true);
    expect(outcome.requests).toBeGreaterThan(0);
    // One pair per quantile that holds answers: all the answers, the values in order.
    const counts = outcome.latency.map(([, count]) => count);
    expect(counts.reduce((sum, count) => sum + count, 0)).toBe(outcome.requests);
    const values = outcome.latency.map(([value]) => value);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(() => distributionsOf(outcome, 4)).toThrow(/too wide/);
  });
});

const nonOk = (result: { statusCounts: Record<string, number> }): number =>
  Object.entries(result.statusCounts)
    .filter(([name]) => name !== 'reserve 200')
    .reduce((sum, [, count]) => sum + count, 0);
