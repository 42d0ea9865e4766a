// Proves a refusal's retry-after is rendered apart from its body: a shed 503 overloaded carries
// the seconds its shard sized, any other 503 says 1, other statuses none; and the body of a shed
// refusal is the contract's error body exactly, whatever its retry-after. And that a
// reservation's body, written as text field by field, is the contract's exactly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ReservationView } from '../../../src/actors/index.js';
import { renderOutcome } from '../../../src/http/reply-render.js';
import { failure } from '../../../src/shards/index.js';

describe('renderOutcome, retry-after', () => {
  it('gives a shed refusal the seconds its shard sized, with the body unchanged', () => {
    const sized = renderOutcome(failure(0, 'overloaded', 'busy', 7).outcome);
    const plain = renderOutcome(failure(0, 'overloaded', 'busy').outcome);
    expect(sized.status).toBe(503);
    expect(sized.retryAfterSeconds).toBe(7);
    expect(plain.retryAfterSeconds).toBe(1);
    expect(sized.body).toBe(plain.body);
    expect(JSON.parse(sized.body)).toEqual({
      error: { code: 'overloaded', message: 'busy' },
    });
  });

  it('says 1 for any other 503 and nothing for other statuses', () => {
    expect(renderOutcome(failure(0, 'unavailable').outcome).retryAfterSeconds).toBe(1);
    const refused = { ok: false, code: 'insufficient_stock', message: 'no' } as const;
    expect(renderOutcome(refused).retryAfterSeconds).toBeUndefined();
  });
});

// The contract's reservation body, built here from the API's field list (v1's seven, then the
// v1.1 ones a hold has) with Date's own ISO text: the oracle the rendered text must equal,
// character for character, key order included.
function contractBody(view: ReservationView): string {
  const body: Record<string, unknown> = {
    reservation_id: view.reservationId,
    status: view.status,
    product_id: view.productId,
    warehouse_id: view.warehouseId,
    quantity: view.quantity,
    expires_at: new Date(view.expiresAtMs).toISOString(),
    created_at: new Date(view.createdAtMs).toISOString(),
  };
  if (view.status === 'CONFIRMED') {
    body.confirmed_quantity = view.confirmedQuantity ?? view.quantity;
  }
  if (view.buyerId !== undefined && view.buyerId !== '') body.buyer_id = view.buyerId;
  if (view.reference !== undefined && view.reference !== '') body.reference = view.reference;
  if (view.cartId !== undefined && view.cartId !== '') body.cart_id = view.cartId;
  if (view.lots !== undefined) {
    body.lots = view.lots.map((units) => ({
      lot_id: units.lotId,
      quantity: units.quantity,
      ...(units.expiresOn === undefined ? {} : { expires_on: units.expiresOn }),
    }));
  }
  return JSON.stringify(body);
}

const text = fc.string({ unit: 'binary', maxLength: 24 });
const time = fc.integer({ min: -8.64e15, max: 8.64e15 });
const optionalText = fc.option(text, { nil: undefined });
const quantity = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0),
);
// A hold as a reserve answers it (v1's fields alone), or with any of the v1.1 fields.
const plainView = fc.record({
  reservationId: text,
  status: fc.constantFrom('PENDING', 'CONFIRMED', 'RELEASED', 'EXPIRED'),
  productId: text,
  warehouseId: text,
  quantity,
  expiresAtMs: time,
  createdAtMs: time,
});
const extras = fc.record(
  {
    confirmedQuantity: fc.integer({ min: 0 }),
    buyerId: optionalText,
    reference: optionalText,
    cartId: optionalText,
    lots: fc.array(
      fc.record(
        { lotId: text, quantity: fc.integer({ min: 1 }), expiresOn: fc.constant('2027-01-31') },
        { requiredKeys: ['lotId', 'quantity'] },
      ),
      { maxLength: 2 },
    ),
  },
  { requiredKeys: [] },
);
const reservationView: fc.Arbitrary<ReservationView> = fc.oneof(
  plainView,
  fc.tuple(plainView, extras).map(([view, more]) => ({ ...view, ...more })),
);

describe('renderOutcome, a reservation', () => {
  it("writes the contract's body exactly, whatever the hold (property)", () => {
    fc.assert(
      fc.property(reservationView, (view) => {
        const rendered = renderOutcome({ ok: true, reservation: view, replayed: false });
        expect(rendered.status).toBe(200);
        expect(rendered.body).toBe(contractBody(view));
      }),
      { numRuns: 2000 },
    );
  });

  it("writes a plain pending hold's body, the reserve's answer, field by field", () => {
    const view: ReservationView = {
      reservationId: '00a1c0de-0000-8000-8000-000000000001',
      status: 'PENDING',
      productId: 'sku-"quoted"\\',
      warehouseId: 'wh-1',
      quantity: 2,
      expiresAtMs: Date.UTC(2026, 11, 6, 23, 0, 0, 5),
      createdAtMs: Date.UTC(2026, 11, 6, 22, 50, 0, 5),
    };
    expect(renderOutcome({ ok: true, reservation: view, replayed: true }).body).toBe(
      '{"reservation_id":"00a1c0de-0000-8000-8000-000000000001","status":"PENDING",' +
        '"product_id":"sku-\\"quoted\\"\\\\","warehouse_id":"wh-1","quantity":2,' +
        '"expires_at":"2026-12-06T23:00:00.005Z","created_at":"2026-12-06T22:50:00.005Z"}',
    );
  });
});
