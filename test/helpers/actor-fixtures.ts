// Command builders and outcome unwrappers shared by the actor unit and property tests.
import type {
  AdjustCommand,
  ApplyResult,
  CartView,
  JournalRecord,
  Outcome,
  ReservationCommand,
  ReservationView,
  ReserveCommand,
  RetentionPolicy,
  StockView,
  TransferCommand,
} from '../../src/actors/index.js';
import { PartitionState } from '../../src/actors/index.js';
import type { CartBody, ModelErrorCode, ModelReply } from '../model/reference-ledger.js';

export const roomyRetention: RetentionPolicy = {
  retainFinishedMs: 3_600_000,
  retainFinishedMax: 1_000,
  onHandMax: 1_000_000,
};

/** A UUID-shaped id (version 8) whose last group is `serial`; deterministic for tests. */
export function reservationIdOf(serial: number): string {
  return `00000000-0000-8000-8000-${serial.toString(16).padStart(12, '0')}`;
}

let nextSerial = 1;

export function reserve(fields: Partial<ReserveCommand> = {}): ReserveCommand {
  const serial = nextSerial++;
  return {
    kind: 'reserve',
    productId: 'sku-1',
    warehouseId: 'wh-1',
    quantity: 1,
    idempotencyKey: `reserve-key-${serial.toString().padStart(8, '0')}`,
    ttlSeconds: 600,
    reservationId: reservationIdOf(serial),
    requesterId: '',
    traceId: `trace-${serial}`,
    ...fields,
  };
}

export function adjust(delta: number, fields: Partial<AdjustCommand> = {}): AdjustCommand {
  return {
    kind: 'adjust',
    productId: 'sku-1',
    warehouseId: 'wh-1',
    delta,
    reason: '',
    idempotencyKey: '',
    actorId: '',
    traceId: 'trace-adjust',
    ...fields,
  };
}

let transferSerial = 0;

/** A direct transfer of 5 units of sku-1 from wh-1 to wh-2, with fresh ids and key each call. */
export function transferCommand(fields: Partial<TransferCommand> = {}): TransferCommand {
  transferSerial += 1;
  const hex = transferSerial.toString(16).padStart(12, '0');
  return {
    kind: 'transfer',
    transferId: `0007aaaa-0000-8000-8000-${hex}`,
    productId: 'sku-1',
    fromWarehouseId: 'wh-1',
    toWarehouseId: 'wh-2',
    quantity: 5,
    inTransit: false,
    idempotencyKey: `transfer-key-${hex}`,
    reason: '',
    actorId: 'admin',
    traceId: `trace-${hex}`,
    ...fields,
  };
}

export function onReservation(
  kind: ReservationCommand['kind'],
  reservationId: string,
): ReservationCommand {
  return { kind, reservationId, traceId: `trace-${kind}` };
}

export function readStock(productId = 'sku-1', warehouseId = 'wh-1') {
  return { kind: 'read-stock', productId, warehouseId } as const;
}

type Rejection = Extract<Outcome, { ok: false }>;

export function reservationOf(outcome: Outcome): ReservationView & { replayed: boolean } {
  if (!outcome.ok || !('reservation' in outcome)) {
    throw new Error(`expected a reservation, got ${JSON.stringify(outcome)}`);
  }
  return { ...outcome.reservation, replayed: outcome.replayed };
}

export function stockOf(outcome: Outcome): StockView & { replayed: boolean } {
  if (!outcome.ok || !('stock' in outcome)) {
    throw new Error(`expected a stock view, got ${JSON.stringify(outcome)}`);
  }
  return { ...outcome.stock, replayed: outcome.replayed };
}

export function rejectionOf(outcome: Outcome): Rejection {
  if (outcome.ok) throw new Error(`expected a rejection, got ${JSON.stringify(outcome)}`);
  return outcome;
}

/** A partition that records every journal record its applies produce, in order. */
export class RecordingPartition {
  readonly records: JournalRecord[] = [];
  readonly state: PartitionState;

  constructor(retention: RetentionPolicy = roomyRetention, partition = 7) {
    this.state = new PartitionState(partition, retention);
  }

  apply(command: Parameters<PartitionState['apply']>[0], nowMs: number): ApplyResult {
    const result = this.state.apply(command, nowMs);
    if (result.record !== undefined) this.records.push(result.record);
    for (const write of result.writes ?? []) this.records.push(write.record);
    return result;
  }

  expire(reservationId: string, nowMs: number): ApplyResult | undefined {
    const result = this.state.expire(reservationId, nowMs);
    if (result?.record !== undefined) this.records.push(result.record);
    return result;
  }
}

export function replayAll(
  records: readonly JournalRecord[],
  retention: RetentionPolicy,
  partition = 7,
): PartitionState {
  const state = new PartitionState(partition, retention);
  for (const record of records) state.replay(record);
  return state;
}

/** The actor's answer in the model's terms. */
export function modelReplyOf(outcome: Outcome, v11 = false): ModelReply {
  if (!outcome.ok) {
    const available = outcome.details?.available;
    return typeof available === 'number'
      ? { ok: false, code: outcome.code as ModelErrorCode, available }
      : {
          ok: false,
          code: outcome.code as ModelErrorCode,
          ...(outcome.details === undefined ? {} : { details: outcome.details as never }),
        };
  }
  if ('reservation' in outcome) {
    const view = outcome.reservation;
    return {
      ok: true,
      replayed: outcome.replayed,
      reservation: {
        id: view.reservationId,
        status: view.status,
        productId: view.productId,
        warehouseId: view.warehouseId,
        quantity: view.quantity,
        createdAtMs: view.createdAtMs,
        expiresAtMs: view.expiresAtMs,
        ...(v11 ? reservationExtras(view) : {}),
        ...(view.lots === undefined ? {} : { lots: view.lots }),
      },
    };
  }
  if ('stock' in outcome)
    return { ok: true, replayed: outcome.replayed, stock: { ...outcome.stock } };
  if ('cart' in outcome)
    return { ok: true, replayed: outcome.replayed, cart: cartBodyOf(outcome.cart) };
  if ('settings' in outcome)
    return { ok: true, replayed: outcome.replayed, settings: outcome.settings };
  if ('productStock' in outcome) {
    return {
      ok: true,
      replayed: outcome.replayed,
      productStock: { ...outcome.productStock, incoming: outcome.productStock.incoming ?? 0 },
    };
  }
  if ('transfer' in outcome) {
    return { ok: true, replayed: outcome.replayed, transfer: { ...outcome.transfer } };
  }
  throw new Error(`no model reply for ${JSON.stringify(outcome)}`);
}

function reservationExtras(view: ReservationView) {
  return {
    ...(view.buyerId === undefined ? {} : { buyerId: view.buyerId }),
    ...(view.reference === undefined ? {} : { reference: view.reference }),
    ...(view.cartId === undefined ? {} : { cartId: view.cartId }),
    ...(view.confirmedQuantity === undefined ? {} : { confirmedQuantity: view.confirmedQuantity }),
  };
}

/** A cart as the model writes it: its expires_at is its holds' latest (the team's choice). */
function cartBodyOf(cart: CartView): CartBody {
  return {
    cartId: cart.cartId,
    status: cart.status,
    createdAtMs: cart.createdAtMs,
    expiresAtMs: cart.expiresAtMs,
    ...(cart.buyerId === '' ? {} : { buyerId: cart.buyerId }),
    ...(cart.reference === '' ? {} : { reference: cart.reference }),
    holds: cart.holds.map((hold) => ({
      line: hold.line,
      reservationId: hold.reservationId,
      productId: hold.productId,
      warehouseId: hold.warehouseId,
      quantity: hold.quantity,
      status: hold.status,
      ...(hold.confirmedQuantity === undefined
        ? {}
        : { confirmedQuantity: hold.confirmedQuantity }),
      ...(hold.lots === undefined ? {} : { lots: hold.lots }),
    })),
  };
}
