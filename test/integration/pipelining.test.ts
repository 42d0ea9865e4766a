// Proves what a pipelining client gets (HTTP/1.1 requests written before earlier answers came;
// uWS does not queue them behind a pending answer, it closes the connection): stock reads,
// answered at once from the durable read view, are all answered in order; a change without an
// idempotency key is answered in order or provably not applied; any other write whose answer a
// closed connection lost is answered by its retry with the same key, and counted once. Checked on
// fixed cases and on random mixes of reads and writes split into random pieces.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runOptions } from '../helpers/fc-options.js';
import { get, newKey, post } from '../helpers/http.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { pipeline, requestText, type RawResponse } from '../helpers/raw-http.js';
import { havePostgres } from '../helpers/services.js';

const warehouse = 'pipe-wh';

describe.runIf(await havePostgres())('HTTP/1.1 pipelining', () => {
  const fixture = useLedger();
  let keys = 0;

  async function stockedKey(onHand: number): Promise<string> {
    keys += 1;
    const product = `pipe-${process.pid}-${keys}`;
    const adjusted = await post(fixture.ledger.baseUrl, '/v1/stock/adjust', {
      product_id: product,
      warehouse_id: warehouse,
      delta: onHand,
    });
    expect(adjusted.status).toBe(200);
    return product;
  }

  const onHandOf = async (product: string): Promise<number> =>
    (await get(fixture.ledger.baseUrl, `/v1/stock/${product}/${warehouse}`)).body.on_hand as number;

  /** An adjust without an idempotency key: it must never apply without its answer. */
  const adjust = (product: string, delta: number): string =>
    requestText('POST', '/v1/stock/adjust', {
      product_id: product,
      warehouse_id: warehouse,
      delta,
    });

  it('answers five pipelined stock reads sent in one packet, in order', async () => {
    const products = [await stockedKey(3), await stockedKey(5), await stockedKey(7)];
    const paths = [...products, 'never-stocked', products[0]].map(
      (product) => `/v1/stock/${product}/${warehouse}`,
    );
    const { responses } = await pipeline(
      fixture.ledger.port,
      [paths.map((path) => requestText('GET', path)).join('')],
      paths.length,
    );
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 404, 200]);
    expect(responses.map((response) => JSON.parse(response.body).on_hand)).toEqual([
      3,
      5,
      7,
      undefined,
      3,
    ]);
  });

  it('never applies a pipelined write whose answer it did not send', async () => {
    const product = await stockedKey(100);
    const deltas = [1, 2, 4];
    const { responses, closedByServer } = await pipeline(
      fixture.ledger.port,
      [deltas.map((delta) => adjust(product, delta)).join('')],
      deltas.length,
    );
    const answered = deltas.slice(0, responses.length);
    expect(responses.every((response) => response.status === 200)).toBe(true);
    if (responses.length < deltas.length) expect(closedByServer).toBe(true);
    expect(await onHandOf(product)).toBe(100 + answered.reduce((sum, delta) => sum + delta, 0));
    // The server goes on serving.
    expect(await onHandOf(product)).toBeGreaterThanOrEqual(100);
  });

  it('answers unkeyed changes in order or not at all, whatever the pieces and pauses', async () => {
    type Step = { kind: 'read' } | { kind: 'write' };
    const plan = fc.record({
      steps: fc.array(
        fc.oneof(fc.constant<Step>({ kind: 'read' }), fc.constant<Step>({ kind: 'write' })),
        { minLength: 2, maxLength: 6 },
      ),
      cuts: fc.array(fc.nat({ max: 2000 }), { maxLength: 4 }),
      gapMs: fc.constantFrom(0, 0, 2, 15),
    });
    await fc.assert(
      fc.asyncProperty(plan, async ({ steps, cuts, gapMs }) => {
        const product = await stockedKey(1000);
        // Distinct powers of two: the final on_hand says exactly which writes were applied.
        const deltas = steps.map((_, index) => 2 ** index);
        const text = steps
          .map((step, index) =>
            step.kind === 'read'
              ? requestText('GET', `/v1/stock/${product}/${warehouse}`)
              : adjust(product, deltas[index] as number),
          )
          .join('');
        const { responses, closedByServer } = await pipeline(
          fixture.ledger.port,
          split(text, cuts),
          steps.length,
          gapMs,
        );
        if (responses.length < steps.length) expect(closedByServer).toBe(true);
        // The k-th answer is the k-th request's: a read shows what the writes before it did.
        let onHand = 1000;
        responses.forEach((response: RawResponse, index) => {
          expect(response.status).toBe(200);
          if (steps[index]?.kind === 'write') onHand += deltas[index] as number;
          expect(JSON.parse(response.body).on_hand).toBe(onHand);
        });
        expect(await onHandOf(product), 'an unanswered write was applied').toBe(onHand);
      }),
      runOptions(40),
    );
  }, 120_000);

  it('answers a keyed write, or its retry with the same key does, and counts it once', async () => {
    type Kind = 'read' | 'reserve' | 'adjust';
    const plan = fc.record({
      kinds: fc.array(fc.constantFrom<Kind>('read', 'reserve', 'adjust'), {
        minLength: 2,
        maxLength: 6,
      }),
      cuts: fc.array(fc.nat({ max: 2000 }), { maxLength: 4 }),
      gapMs: fc.constantFrom(0, 0, 2, 15),
    });
    await fc.assert(
      fc.asyncProperty(plan, async ({ kinds, cuts, gapMs }) => {
        const product = await stockedKey(1000);
        const key = { product_id: product, warehouse_id: warehouse };
        const requests = kinds.map((kind, index) =>
          kind === 'read'
            ? { kind, path: `/v1/stock/${product}/${warehouse}`, body: undefined }
            : {
                kind,
                path: kind === 'reserve' ? '/v1/reserve' : '/v1/stock/adjust',
                body:
                  kind === 'reserve'
                    ? { ...key, quantity: 1, idempotency_key: newKey('pr') }
                    : { ...key, delta: 2 ** index, idempotency_key: newKey('pa') },
              },
        );
        const text = requests
          .map((request) =>
            request.body === undefined
              ? requestText('GET', request.path)
              : requestText('POST', request.path, request.body),
          )
          .join('');
        const { responses, closedByServer } = await pipeline(
          fixture.ledger.port,
          split(text, cuts),
          requests.length,
          gapMs,
        );
        if (responses.length < requests.length) expect(closedByServer).toBe(true);
        for (const response of responses) expect(response.status).toBe(200);
        // What went unanswered is asked again, as a client that lost its connection would.
        for (const request of requests.slice(responses.length)) {
          if (request.body === undefined) continue;
          expect((await post(fixture.ledger.baseUrl, request.path, request.body)).status).toBe(200);
        }
        let adjusted = 0;
        let reserved = 0;
        requests.forEach((request, index) => {
          if (request.kind === 'adjust') adjusted += 2 ** index;
          if (request.kind === 'reserve') reserved += 1;
        });
        const stock = await get(fixture.ledger.baseUrl, `/v1/stock/${product}/${warehouse}`);
        expect(stock.body).toMatchObject({ on_hand: 1000 + adjusted, reserved });
      }),
      runOptions(40),
    );
  }, 120_000);
});

/** `text` cut at the given offsets (each taken modulo its length), in order. */
function split(text: string, cuts: readonly number[]): string[] {
  const offsets = [...new Set(cuts.map((cut) => cut % text.length))]
    .filter((offset) => offset > 0)
    .sort((a, b) => a - b);
  const pieces: string[] = [];
  let start = 0;
  for (const offset of offsets) {
    pieces.push(text.slice(start, offset));
    start = offset;
  }
  pieces.push(text.slice(start));
  return pieces;
}
