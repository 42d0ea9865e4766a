// Proves how each journal record becomes a movement: its type, signed or unsigned quantity,
// ids, reason, reference, subject and trace id, rendered after a round trip through the record
// codec (as the history reads it back); records that change no key are none; and countsBefore
// undoes each kind exactly, so a change of several records on one key gets each one's counts.
import { describe, expect, it } from 'vitest';
import {
  countsBefore,
  isMovement,
  movementOf,
  subjectOf,
  type JournalRecord,
  type MovementCounts,
  type MovementRecord,
} from '../../../src/actors/index.js';
import { encodeRecord, movementOfRow } from '../../../src/persistence/index.js';
import { movementObject } from '../../../src/http/movements.js';

const atMs = Date.UTC(2026, 11, 3, 10, 0, 0);
const base = { productId: 'p-1', warehouseId: 'w-1', atMs, traceId: 'trace-1' };
const holdId = '00070000-0000-8000-8000-000000000001';
const cartId = '00070000-0000-8000-8000-0000000a0000';
const hold = { ...base, reservationId: holdId, quantity: 3, requesterId: 'bob' };
const transfer = {
  ...base,
  type: 'transfer' as const,
  transferId: '00070000-0000-8000-8000-0000000c0000',
  fromWarehouseId: 'w-1',
  toWarehouseId: 'w-2',
  quantity: 4,
  inTransit: true,
  reserved: 0,
  idempotencyKey: 'transfer-key-0000001',
  reason: 'rebalance',
  reference: 'TR-1',
  actorId: 'alice',
  createdAtMs: atMs,
};
const counts: MovementCounts = { onHand: 10, reserved: 3, incoming: 0 };

/** Encoded and decoded, then rendered as the HTTP answer has it. */
function rendered(record: MovementRecord, subject = subjectOf(record)): Record<string, unknown> {
  return movementObject(movementOfRow(encodeRecord(record), counts, subject));
}

describe('a record as a movement', () => {
  it('renders a reserve with its hold, buyer, reference, cart and the caller', () => {
    const record: MovementRecord = {
      ...hold,
      type: 'reserved',
      version: 2,
      expiresAtMs: atMs + 60_000,
      idempotencyKey: '',
      buyerId: 'buyer-1',
      reference: 'ORDER-1',
      cartId,
    };
    expect(rendered(record)).toEqual({
      version: 2,
      type: 'reserve',
      quantity: 3,
      on_hand: 10,
      reserved: 3,
      incoming: 0,
      at: '2026-12-03T10:00:00.000Z',
      reservation_id: holdId,
      cart_id: cartId,
      buyer_id: 'buyer-1',
      reference: 'ORDER-1',
      subject: 'bob',
      trace_id: 'trace-1',
    });
  });

  it('renders a confirm with the units sold, and the ends of a hold with the caller given', () => {
    const confirmed: MovementRecord = {
      ...hold,
      type: 'confirmed',
      version: 3,
      confirmedQuantity: 2,
    };
    // The record's requester made the hold; the caller of the confirm is given apart.
    expect(subjectOf(confirmed)).toBe('');
    expect(rendered(confirmed, 'carol')).toMatchObject({
      type: 'confirm',
      quantity: 2,
      subject: 'carol',
    });
    expect(rendered({ ...confirmed, confirmedQuantity: undefined })).toMatchObject({
      quantity: 3,
    });
    expect(rendered({ ...hold, type: 'released', version: 3 }, 'carol')).toMatchObject({
      type: 'release',
      quantity: 3,
      subject: 'carol',
    });
    const expired = rendered({ ...hold, type: 'expired', version: 3 }, '');
    expect(expired).toMatchObject({ type: 'expire', quantity: 3, reservation_id: holdId });
    expect(expired).not.toHaveProperty('subject');
  });

  it('renders adjusts and sets with the signed change of on_hand', () => {
    const adjusted: MovementRecord = {
      ...base,
      type: 'adjusted',
      version: 5,
      delta: -4,
      onHand: 10,
      reserved: 3,
      reason: 'damaged',
      idempotencyKey: '',
      actorId: 'alice',
      reference: 'RMA-9',
    };
    expect(rendered(adjusted)).toEqual({
      version: 5,
      type: 'adjust',
      quantity: -4,
      on_hand: 10,
      reserved: 3,
      incoming: 0,
      at: '2026-12-03T10:00:00.000Z',
      reason: 'damaged',
      reference: 'RMA-9',
      subject: 'alice',
      trace_id: 'trace-1',
    });
    expect(rendered({ ...adjusted, set: true, delta: 7, reason: '' })).toMatchObject({
      type: 'set',
      quantity: 7,
    });
    expect(rendered({ ...adjusted, set: true, delta: 7, reason: '' })).not.toHaveProperty('reason');
  });

  it('renders each transfer step as its own type, with the transfer id', () => {
    const steps = [
      ['out', 'transfer_out'],
      ['in', 'transfer_in'],
      ['incoming', 'transfer_incoming'],
      ['cancel', 'transfer_cancel'],
    ] as const;
    for (const [step, type] of steps) {
      const record: MovementRecord = { ...transfer, step, version: 2, onHand: 6, incoming: 0 };
      expect(rendered(record)).toMatchObject({
        type,
        quantity: 4,
        transfer_id: transfer.transferId,
        reason: 'rebalance',
        reference: 'TR-1',
        subject: 'alice',
      });
    }
  });

  it('renders a write-off as lot_expired with its lot, and the lots a change took', () => {
    const writeOff = {
      ...base,
      type: 'lot-expired' as const,
      version: 7,
      lotId: 'L-2026-12',
      expiresOn: '2026-12-02',
      quantity: 4,
      onHand: 6,
      reserved: 3,
    };
    expect(isMovement(writeOff)).toBe(true);
    expect(subjectOf(writeOff)).toBe('');
    expect(rendered(writeOff)).toMatchObject({
      version: 7,
      type: 'lot_expired',
      quantity: 4,
      lots: [{ lot_id: 'L-2026-12', quantity: 4, expires_on: '2026-12-02' }],
    });
    expect(rendered(writeOff)).not.toHaveProperty('subject');
    const lots = [
      { lotId: 'L-1', quantity: 2, expiresOn: '2026-12-24' },
      { lotId: '', quantity: 1 },
    ];
    const reserve = { ...hold, type: 'reserved' as const, version: 3, expiresAtMs: atMs, lots };
    expect(rendered({ ...reserve, idempotencyKey: '' }).lots).toEqual([
      { lot_id: 'L-1', quantity: 2, expires_on: '2026-12-24' },
      { lot_id: '', quantity: 1 },
    ]);
  });

  it('counts records that change no key as no movement', () => {
    const extended: JournalRecord = {
      ...hold,
      type: 'extended',
      version: 2,
      expiresAtMs: atMs + 120_000,
    };
    const settings: JournalRecord = {
      type: 'settings',
      productId: 'p-1',
      settings: {
        maxPerBuyer: null,
        limitWindowSeconds: 86_400,
        warehousePriority: null,
        lowStockThreshold: null,
      },
      atMs,
      traceId: 't',
      actorId: 'alice',
    };
    expect(isMovement(extended)).toBe(false);
    expect(isMovement(settings)).toBe(false);
    expect(() => movementOfRow(encodeRecord(settings), counts, null)).toThrow(/changes no/);
  });
});

describe('countsBefore', () => {
  const after: MovementCounts = { onHand: 20, reserved: 5, incoming: 4 };
  const cases: [MovementRecord, MovementCounts][] = [
    [
      { ...hold, type: 'reserved', version: 2, expiresAtMs: atMs, idempotencyKey: '' },
      { onHand: 20, reserved: 2, incoming: 4 },
    ],
    [
      { ...hold, type: 'confirmed', version: 2, confirmedQuantity: 1 },
      { onHand: 21, reserved: 8, incoming: 4 },
    ],
    [
      { ...hold, type: 'released', version: 2 },
      { onHand: 20, reserved: 8, incoming: 4 },
    ],
    [
      { ...hold, type: 'expired', version: 2 },
      { onHand: 20, reserved: 8, incoming: 4 },
    ],
    [
      {
        ...base,
        type: 'adjusted',
        version: 2,
        delta: -6,
        onHand: 20,
        reserved: 5,
        reason: '',
        idempotencyKey: '',
        actorId: '',
      },
      { onHand: 26, reserved: 5, incoming: 4 },
    ],
    [
      { ...transfer, step: 'out', version: 2, onHand: 20, incoming: 4 },
      { onHand: 24, reserved: 5, incoming: 4 },
    ],
    [
      { ...transfer, warehouseId: 'w-2', step: 'incoming', version: 2, onHand: 20, incoming: 4 },
      { onHand: 20, reserved: 5, incoming: 0 },
    ],
    [
      { ...transfer, warehouseId: 'w-2', step: 'in', version: 2, onHand: 20, incoming: 4 },
      { onHand: 16, reserved: 5, incoming: 8 },
    ],
    [
      {
        ...transfer,
        step: 'in',
        inTransit: false,
        warehouseId: 'w-2',
        version: 2,
        onHand: 20,
        incoming: 4,
      },
      { onHand: 16, reserved: 5, incoming: 4 },
    ],
    [
      { ...transfer, step: 'cancel', version: 2, onHand: 20, incoming: 4 },
      { onHand: 16, reserved: 5, incoming: 4 },
    ],
    [
      { ...transfer, warehouseId: 'w-2', step: 'cancel', version: 2, onHand: 20, incoming: 4 },
      { onHand: 20, reserved: 5, incoming: 8 },
    ],
    [
      {
        ...base,
        type: 'lot-expired',
        version: 2,
        lotId: 'L-1',
        expiresOn: '2026-12-02',
        quantity: 7,
        onHand: 20,
        reserved: 5,
      },
      { onHand: 27, reserved: 5, incoming: 4 },
    ],
  ];
  for (const [record, before] of cases) {
    const name =
      record.type === 'transfer' ? `${record.step} at ${record.warehouseId}` : record.type;
    it(`undoes ${name}`, () => {
      expect(countsBefore(record, after)).toEqual(before);
    });
  }

  it('renders the counts it is given, not the record’s', () => {
    const record = { ...transfer, step: 'out' as const, version: 2, onHand: 99, incoming: 0 };
    expect(movementOf(record, after, '')).toMatchObject({ onHand: 20, incoming: 4 });
  });
});
