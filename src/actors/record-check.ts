// The shape every journal record must have, checked twice: when the shard writes it and when
// recovery replays it (STYLE.md: assertions paired). A record that fails here is a programmer
// error on one side or the other, never bad input: requests are validated long before.
import { assert, fail } from './assert.js';
import type {
  CartConfirmRecord,
  CartRecord,
  JournalRecord,
  LotExpiredRecord,
  StockRecord,
  TransferRecord,
} from './types.js';

const isCount = (value: number, min: number): boolean =>
  Number.isSafeInteger(value) && value >= min;

export function checkRecord(record: JournalRecord): void {
  if (record.type === 'settings') {
    assert(record.productId.length > 0, 'a settings record without a product');
    if (!isCount(record.atMs, 0)) fail(`a settings record at time ${record.atMs}`);
    return;
  }
  if (record.type === 'cart') {
    checkCart(record);
    return;
  }
  if (record.type === 'cart-confirm') {
    checkCartConfirm(record);
    return;
  }
  if (!(record.productId.length > 0 && record.warehouseId.length > 0)) {
    fail(`a ${record.type} record without a stock key`);
  }
  if (!isCount(record.version, 1)) fail(`a ${record.type} record at version ${record.version}`);
  if (!isCount(record.atMs, 0)) fail(`a ${record.type} record at time ${record.atMs}`);
  checkSignals(record);
  checkLots(record);
  switch (record.type) {
    case 'reserved':
      assert(isCount(record.quantity, 1), 'a reserved record without a positive quantity');
      assert(
        isCount(record.expiresAtMs, record.atMs + 1),
        'a reserved record that expires before it was made',
      );
      assert(record.reservationId.length > 0, 'a reserved record without a reservation id');
      // A cart's hold has no key of its own: its cart has one.
      assert(
        record.idempotencyKey.length > 0 || (record.cartId ?? '').length > 0,
        'a reserved record without an idempotency key',
      );
      return;
    case 'extended':
      assert(isCount(record.quantity, 1), 'an extended record without a quantity');
      assert(isCount(record.expiresAtMs, record.atMs + 1), 'an extend into the past');
      return;
    case 'transfer':
      checkTransfer(record);
      return;
    case 'lot-expired':
      checkLotExpired(record);
      return;
    case 'adjusted':
      assert(Number.isSafeInteger(record.delta), 'an adjusted record with a fractional delta');
      if (!(
        isCount(record.reserved, 0) &&
        isCount(record.onHand, record.reserved) &&
        record.onHand - record.delta >= 0
      )) {
        fail(`an adjusted record with on_hand ${record.onHand}, reserved ${record.reserved}`);
      }
      return;
    default: {
      if (!isCount(record.quantity, 1)) fail(`a ${record.type} record without a quantity`);
      if (record.reservationId.length === 0) fail(`a ${record.type} record without an id`);
      const sold = record.confirmedQuantity;
      if (!(
        sold === undefined ||
        (record.type === 'confirmed' && isCount(sold, 1) && sold < record.quantity)
      )) {
        fail(`a ${record.type} record selling ${String(sold)} of ${record.quantity}`);
      }
    }
  }
}

function checkSignals(record: StockRecord): void {
  const signals = record.type === 'extended' ? undefined : record.signals;
  if (signals === undefined) return;
  if (!(
    isCount(signals.flags, 1) &&
    signals.flags <= 7 &&
    isCount(signals.reserved, 0) &&
    isCount(signals.onHand, signals.reserved)
  )) {
    fail(`a ${record.type} record crossing ${JSON.stringify(signals)}`);
  }
}

/** A record's lots name each lot once, with units, and add up to the units it moved. */
function checkLots(record: StockRecord): void {
  const lots = record.type === 'lot-expired' ? undefined : record.lots;
  if (lots === undefined) return;
  const total =
    record.type === 'adjusted' ? Math.abs(record.delta) : (record.quantity satisfies number);
  let sum = 0;
  const seen = new Set<string>();
  for (const units of lots) {
    if (!(isCount(units.quantity, 1) && !seen.has(units.lotId) && units.lotId.length <= 64)) {
      fail(`a ${record.type} record with lots ${JSON.stringify(lots)}`);
    }
    if (!(units.expiresOn === undefined || /^\d{4}-\d{2}-\d{2}$/.test(units.expiresOn))) {
      fail(`a ${record.type} record with a lot expiring on ${String(units.expiresOn)}`);
    }
    seen.add(units.lotId);
    sum += units.quantity;
  }
  if (sum !== total) fail(`a ${record.type} record whose lots move ${sum} of ${total} units`);
}

function checkLotExpired(record: LotExpiredRecord): void {
  assert(isCount(record.quantity, 1), 'a lot-expired record without units');
  assert(record.lotId.length <= 64, 'a lot-expired record of a bad lot id');
  assert(/^\d{4}-\d{2}-\d{2}$/.test(record.expiresOn), 'a write-off of a lot without a date');
  if (!(isCount(record.reserved, 0) && isCount(record.onHand, record.reserved))) {
    fail(`a lot-expired record with on_hand ${record.onHand}, reserved ${record.reserved}`);
  }
}

function checkTransfer(record: TransferRecord): void {
  assert(record.transferId.length === 36, 'a transfer record without a transfer id');
  assert(isCount(record.quantity, 1), 'a transfer record without a positive quantity');
  if (!(
    record.fromWarehouseId !== record.toWarehouseId &&
    (record.warehouseId === record.fromWarehouseId || record.warehouseId === record.toWarehouseId)
  )) {
    fail(`a transfer record of ${record.warehouseId} from ${record.fromWarehouseId}`);
  }
  const source = record.warehouseId === record.fromWarehouseId;
  if (!(source ? record.step === 'out' || record.step === 'cancel' : record.step !== 'out')) {
    fail(`a transfer ${record.step} record on its ${source ? 'source' : 'destination'}`);
  }
  assert(
    record.step === 'in' || record.step === 'cancel' || record.inTransit || source,
    'a transfer_incoming record of a direct transfer',
  );
  if (!(isCount(record.reserved, 0) && isCount(record.onHand, record.reserved))) {
    fail(`a transfer record with on_hand ${record.onHand}, reserved ${record.reserved}`);
  }
  if (!isCount(record.incoming, 0)) fail(`a transfer record with incoming ${record.incoming}`);
  assert(record.idempotencyKey.length > 0, 'a transfer record without an idempotency key');
  assert(
    isCount(record.createdAtMs, 0) && record.createdAtMs <= record.atMs,
    'a transfer too late',
  );
}

function checkCart(record: CartRecord): void {
  assert(record.cartId.length === 36, 'a cart record without a cart id');
  if (!isCount(record.atMs, 0)) fail(`a cart record at time ${record.atMs}`);
  if (record.decision === 'aborted') {
    assert(record.holds.length === 0, 'an aborted cart naming holds');
    return;
  }
  assert(record.holds.length > 0, 'a committed cart without holds');
  assert(record.idempotencyKey.length > 0, 'a committed cart without an idempotency key');
  assert(
    isCount(record.expiresAtMs, record.createdAtMs + 1),
    'a cart that expires before it was made',
  );
  for (const hold of record.holds) {
    if (!(isCount(hold.quantity, 1) && isCount(hold.line, 0) && isCount(hold.partition, 0))) {
      fail(`cart ${record.cartId}: a hold with quantity ${hold.quantity}, line ${hold.line}`);
    }
  }
}

function checkCartConfirm(record: CartConfirmRecord): void {
  assert(record.cartId.length === 36, 'a cart confirm record without a cart id');
  assert(record.attempt.length > 0, 'a cart confirm record without an attempt');
  if (!isCount(record.atMs, 0)) fail(`a cart confirm record at time ${record.atMs}`);
  const pins = record.step === 'pinned' || record.step === 'unpinned';
  if (!(pins ? record.holds.length > 0 : record.holds.length === 0)) {
    fail(`a cart confirm ${record.step} record with ${record.holds.length} holds`);
  }
  for (const hold of record.holds) {
    assert(hold.reservationId.length > 0, 'a cart confirm record naming a hold without an id');
    assert(isCount(hold.quantity, 1), 'a cart confirm record selling no units');
  }
}
