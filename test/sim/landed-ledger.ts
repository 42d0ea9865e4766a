// What the journal holds, kept up to date as rows land (MemoryJournal.onLanded), for the cart
// simulator's checks: every hold and its state, every cart's decisions, the idempotency keys
// bound, and each stock key's on_hand and reserved replayed from the records alone. Landing
// itself is checked: lsns follow each other, a hold is made once and ended once, the stock
// invariants hold after every record, and a committed decision lands only after every hold it
// names, which no other hold of that cart may follow. A cart confirm attempt's steps are
// checked too: a pinned hold is ended only by a confirm of the pinned units, and only after its
// home journaled that attempt as confirmed (roll forward, never before the decision). And every
// change says exactly the lines it crossed (sold out, back in stock, low), worked out here again.
// Transfers are never half-moved: a step's source record is followed, in the very next row of
// its partition, by the destination's record of the same step; a transfer is made once, and each
// key's on_hand and incoming are what its transfer records say. Each record that changed a key
// lands with its movement row (the history), whose counts are the ones replayed here.
import {
  isMovement,
  stockSignal,
  type CartConfirmRecord,
  type CartRecord,
  type JournalRecord,
  type ReservationStatus,
  type ReservedRecord,
  type StockRecord,
  type TransferRecord,
  type TransferStatus,
} from '../../src/actors/index.js';
import { decodeRecord, type WalRow } from '../../src/persistence/index.js';
import { LandedLots } from './landed-lots.js';

export interface LandedHold {
  readonly record: ReservedRecord;
  readonly partition: number;
  status: ReservationStatus;
  confirmedQuantity: number;
  /** The trace id of the record that ended it ('' for the shard's own, or none yet). */
  endedBy: string | undefined;
  /** The confirm attempt that pinned it, and the units it would sell ('' none). */
  pinnedBy: string;
  pinnedQuantity: number;
}

interface Stock {
  onHand: number;
  reserved: number;
  incoming: number;
  /**
   * The version of the key's first stocking: its first record that was not a transfer's
   * incoming (or a cancel of one); 0 until then. That change is never a return to stock.
   */
  stockedAtVersion: number;
}

export class LandedLedger {
  readonly holds = new Map<string, LandedHold>();
  /** Cart id -> ids of its holds, in the order they landed. */
  readonly cartHolds = new Map<string, string[]>();
  /** Cart id -> its decision (a second one is a failure). */
  readonly decisions = new Map<string, CartRecord>();
  /** Cart id -> its confirm attempts decided at its home, each `confirmed` or `aborted`. */
  readonly confirmDecisions = new Map<string, Map<string, CartConfirmRecord['step']>>();
  /** Idempotency key -> the committed cart that bound it. */
  readonly keys = new Map<string, CartRecord>();
  readonly stock = new Map<string, Stock>();
  /** Transfer id -> its status, as the destination's records of its steps say. */
  readonly transfers = new Map<string, TransferStatus>();
  /** Per partition: the source's record of a transfer step whose destination half must follow. */
  private readonly halves = new Map<number, TransferRecord>();
  /** Products' low-stock thresholds, as the settings records set them. */
  private readonly thresholds = new Map<string, number | null>();
  private readonly lastLsns = new Map<number, number>();
  rows = 0;
  /** Cart confirm attempts' steps landed, by step (pins, unpins, the home's decisions). */
  readonly confirmSteps = { pinned: 0, unpinned: 0, confirmed: 0, aborted: 0 };

  /** Each key's lots, counted from the records alone. */
  readonly lots: LandedLots;

  constructor(private readonly fail: (reason: string) => void) {
    this.lots = new LandedLots(fail);
  }

  land(rows: readonly WalRow[]): void {
    for (const row of rows) {
      this.rows += 1;
      const last = this.lastLsns.get(row.partition) ?? 0;
      if (row.lsn !== last + 1) {
        this.fail(`partition ${row.partition}: lsn ${row.lsn} landed after ${last}`);
      }
      this.lastLsns.set(row.partition, row.lsn);
      const record = decodeRecord(row.payload);
      this.pairHalves(row.partition, record);
      this.apply(row.partition, record);
      this.checkMovement(row, record);
    }
  }

  /**
   * The movement row beside a record (the history): there exactly when the record changed a
   * key's version, naming that key and version, with the key's counts right after the record as
   * replayed here from the records alone.
   */
  private checkMovement(row: WalRow, record: JournalRecord): void {
    const where = `partition ${row.partition} lsn ${row.lsn} (${record.type})`;
    const movement = row.movement;
    if (!isMovement(record)) {
      if (movement !== undefined) this.fail(`${where}: a movement for a record of no key`);
      return;
    }
    const stock = this.stock.get(`${record.productId}/${record.warehouseId}`);
    if (movement === undefined || stock === undefined) {
      this.fail(`${where}: a change of a key without its movement`);
      return;
    }
    const expected = {
      productId: record.productId,
      warehouseId: record.warehouseId,
      version: record.version,
      atMs: record.atMs,
      onHand: stock.onHand,
      reserved: stock.reserved,
      incoming: stock.incoming,
    };
    const { subject: _subject, ...found } = movement;
    if (JSON.stringify(found) !== JSON.stringify(expected)) {
      this.fail(
        `${where}: movement ${JSON.stringify(found)}, replayed ${JSON.stringify(expected)}`,
      );
    }
  }

  committed(cartId: string): CartRecord | undefined {
    const decision = this.decisions.get(cartId);
    return decision?.decision === 'committed' ? decision : undefined;
  }

  private apply(partition: number, record: JournalRecord): void {
    if (
      record.type === 'reserved' ||
      record.type === 'adjusted' ||
      record.type === 'confirmed' ||
      record.type === 'released' ||
      record.type === 'expired' ||
      record.type === 'transfer' ||
      record.type === 'lot-expired'
    ) {
      const key = `${record.productId}/${record.warehouseId}`;
      const existed = this.stock.has(key);
      const before = existed ? this.available(key) : 0;
      // Not stockOf: it would make the key, and a hold on a key never stocked must fail.
      const { onHand, reserved } = this.stock.get(key) ?? { onHand: 0, reserved: 0 };
      const hold = 'reservationId' in record ? this.holds.get(record.reservationId) : undefined;
      this.lots.apply(record, { onHand, reserved }, hold?.record);
      const incomingOnly =
        record.type === 'transfer' &&
        (record.step === 'incoming' ||
          (record.step === 'cancel' && record.warehouseId === record.toWarehouseId));
      this.applyStock(partition, record);
      const stock = this.stockOf(key);
      if (stock.stockedAtVersion === 0 && !incomingOnly) stock.stockedAtVersion = record.version;
      this.lots.check(key, stock.onHand, stock.reserved);
      this.checkSignals(record, key, existed, before);
      return;
    }
    this.applyStock(partition, record);
  }

  /** A transfer step's two records land together, source first, or the step is half-moved. */
  private pairHalves(partition: number, record: JournalRecord): void {
    const half = this.halves.get(partition);
    this.halves.delete(partition);
    if (half !== undefined) {
      const pairs =
        record.type === 'transfer' &&
        record.transferId === half.transferId &&
        record.warehouseId === record.toWarehouseId &&
        (half.step === 'cancel' ? record.step === 'cancel' : record.step !== 'cancel');
      if (!pairs) this.fail(`transfer ${half.transferId}: its ${half.step} landed alone`);
    }
    if (record.type === 'transfer' && record.warehouseId === record.fromWarehouseId) {
      this.halves.set(partition, record);
    }
  }

  private available(key: string): number {
    const stock = this.stockOf(key);
    return stock.onHand - stock.reserved;
  }

  /** A change says the lines it crossed, worked out here from the journal alone. */
  private checkSignals(
    record: Exclude<StockRecord, { type: 'extended' }>,
    key: string,
    existed: boolean,
    before: number,
  ): void {
    const stock = this.stockOf(key);
    const after = stock.onHand - stock.reserved;
    const threshold = this.thresholds.get(record.productId) ?? null;
    let flags = 0;
    if (before > 0 && after === 0) flags |= stockSignal.soldOut;
    const first = record.version === stock.stockedAtVersion;
    if (existed && before === 0 && after > 0 && !first) flags |= stockSignal.backInStock;
    if (threshold !== null && before >= threshold && after < threshold) flags |= stockSignal.low;
    const wanted =
      flags === 0 ? undefined : { flags, onHand: stock.onHand, reserved: stock.reserved };
    if (JSON.stringify(record.signals) !== JSON.stringify(wanted)) {
      this.fail(
        `${record.type} of ${key} v${record.version} says it crossed ` +
          `${JSON.stringify(record.signals)}, the journal says ${JSON.stringify(wanted)}`,
      );
    }
  }

  private applyStock(partition: number, record: JournalRecord): void {
    switch (record.type) {
      case 'settings':
        this.thresholds.set(record.productId, record.settings.lowStockThreshold);
        return;
      case 'cart':
        return this.decided(partition, record);
      case 'cart-confirm':
        return this.confirmStep(partition, record);
      case 'adjusted': {
        const stock = this.stockOf(`${record.productId}/${record.warehouseId}`);
        stock.onHand += record.delta;
        if (stock.onHand !== record.onHand || stock.reserved !== record.reserved) {
          this.fail(
            `adjust of ${record.productId}/${record.warehouseId} says ${record.onHand}/` +
              `${record.reserved}, the journal before it ${stock.onHand}/${stock.reserved}`,
          );
        }
        return this.checkStock(record.productId, record.warehouseId);
      }
      case 'reserved':
        return this.reserved(partition, record);
      case 'extended': {
        const hold = this.holds.get(record.reservationId);
        if (hold?.status !== 'PENDING') this.fail(`${record.reservationId} extended, not pending`);
        return;
      }
      case 'transfer':
        return this.transferred(record);
      case 'lot-expired': {
        // A write-off: the lot's unheld units leave on_hand; held units are never touched.
        const stock = this.stockOf(`${record.productId}/${record.warehouseId}`);
        stock.onHand -= record.quantity;
        if (stock.onHand !== record.onHand || stock.reserved !== record.reserved) {
          this.fail(
            `write-off of ${record.productId}/${record.warehouseId} says ${record.onHand}/` +
              `${record.reserved}, the journal before it ${stock.onHand}/${stock.reserved}`,
          );
        }
        return this.checkStock(record.productId, record.warehouseId);
      }
      default:
        return this.ended(record);
    }
  }

  /** A transfer's record on one of its keys: the counts it says are the journal's. */
  private transferred(record: TransferRecord): void {
    this.transferStep(record);
    const key = `${record.productId}/${record.warehouseId}`;
    const stock = this.stockOf(key);
    const source = record.warehouseId === record.fromWarehouseId;
    const { quantity } = record;
    if (record.step === 'out') stock.onHand -= quantity;
    else if (record.step === 'incoming') stock.incoming += quantity;
    else if (record.step === 'in') {
      stock.onHand += quantity;
      if (record.inTransit) stock.incoming -= quantity;
    } else if (source) stock.onHand += quantity;
    else stock.incoming -= quantity;
    if (
      stock.onHand !== record.onHand ||
      stock.reserved !== record.reserved ||
      stock.incoming !== record.incoming ||
      stock.incoming < 0
    ) {
      this.fail(
        `transfer ${record.step} of ${key} says ${record.onHand}/${record.reserved}/` +
          `${record.incoming}, the journal ${stock.onHand}/${stock.reserved}/${stock.incoming}`,
      );
    }
    this.checkStock(record.productId, record.warehouseId);
  }

  /** The transfer's status from its destination's records; made once, ended once. */
  private transferStep(record: TransferRecord): void {
    const status = this.transfers.get(record.transferId);
    if (record.step === 'out') {
      if (status !== undefined) this.fail(`transfer ${record.transferId} made twice`);
      return;
    }
    if (record.warehouseId !== record.toWarehouseId) {
      if (status !== 'IN_TRANSIT') this.fail(`transfer ${record.transferId} cancelled ${status}`);
      return;
    }
    const made = status === undefined && (record.step === 'incoming' || !record.inTransit);
    if (!made && status !== 'IN_TRANSIT') {
      this.fail(`transfer ${record.transferId}: ${record.step} of a ${String(status)} transfer`);
    }
    const next = { incoming: 'IN_TRANSIT', in: 'RECEIVED', cancel: 'CANCELLED' } as const;
    this.transfers.set(record.transferId, next[record.step]);
  }

  private reserved(partition: number, record: ReservedRecord): void {
    const id = record.reservationId;
    if (this.holds.has(id)) this.fail(`hold ${id} made twice`);
    const key = `${record.productId}/${record.warehouseId}`;
    if (!this.stock.has(key)) this.fail(`hold ${id} on ${key}, never stocked`);
    this.holds.set(id, {
      record,
      partition,
      status: 'PENDING',
      confirmedQuantity: 0,
      endedBy: undefined,
      pinnedBy: '',
      pinnedQuantity: 0,
    });
    this.stockOf(key).reserved += record.quantity;
    this.checkStock(record.productId, record.warehouseId);
    const cartId = record.cartId ?? '';
    if (cartId === '') return;
    const ids = this.cartHolds.get(cartId) ?? [];
    ids.push(id);
    this.cartHolds.set(cartId, ids);
    if (this.committed(cartId) !== undefined) {
      this.fail(`hold ${id} of cart ${cartId} landed after the cart's commit, which omits it`);
    }
  }

  private ended(record: Extract<JournalRecord, { type: 'confirmed' | 'released' | 'expired' }>) {
    const hold = this.holds.get(record.reservationId);
    if (hold === undefined || hold.status !== 'PENDING') {
      this.fail(
        `${record.type} ${record.reservationId}: ${hold?.status ?? 'unknown'} in the journal`,
      );
      return;
    }
    if (hold.pinnedBy !== '') this.endedPinned(hold, record);
    const stock = this.stockOf(`${record.productId}/${record.warehouseId}`);
    stock.reserved -= hold.record.quantity;
    if (record.type === 'confirmed') {
      hold.confirmedQuantity = record.confirmedQuantity ?? hold.record.quantity;
      stock.onHand -= hold.confirmedQuantity;
    }
    hold.status =
      record.type === 'confirmed'
        ? 'CONFIRMED'
        : (record.type.toUpperCase() as 'RELEASED' | 'EXPIRED');
    hold.endedBy = record.traceId;
    this.checkStock(record.productId, record.warehouseId);
  }

  /** A pinned hold ends only by its attempt's confirm, of the pinned units, once decided. */
  private endedPinned(
    hold: LandedHold,
    record: Extract<JournalRecord, { type: 'confirmed' | 'released' | 'expired' }>,
  ): void {
    const id = record.reservationId;
    const cartId = hold.record.cartId ?? '';
    const sold = record.confirmedQuantity ?? hold.record.quantity;
    if (record.type !== 'confirmed' || sold !== hold.pinnedQuantity) {
      this.fail(`${id}, pinned for ${hold.pinnedQuantity} units, ${record.type} selling ${sold}`);
    }
    const decided = this.confirmDecisions.get(cartId)?.get(hold.pinnedBy);
    if (decided !== 'confirmed') {
      this.fail(`${id} confirmed by attempt ${hold.pinnedBy}, ${decided ?? 'undecided'} at home`);
    }
    hold.pinnedBy = '';
  }

  private confirmStep(partition: number, record: CartConfirmRecord): void {
    const { cartId, attempt, step } = record;
    this.confirmSteps[step] += 1;
    if (step === 'confirmed' || step === 'aborted') {
      if (partition !== Number.parseInt(cartId.slice(0, 4), 16)) {
        this.fail(`confirm attempt ${attempt} of ${cartId} decided off its home`);
      }
      if (this.committed(cartId) === undefined) {
        this.fail(`confirm attempt ${attempt} decided for ${cartId}, not a committed cart`);
      }
      const attempts = this.confirmDecisions.get(cartId) ?? new Map();
      this.confirmDecisions.set(cartId, attempts);
      if (attempts.has(attempt)) this.fail(`confirm attempt ${attempt} decided twice`);
      const confirmed = [...attempts.values()].includes('confirmed');
      if (step === 'confirmed' && confirmed) this.fail(`cart ${cartId} confirmed by two attempts`);
      attempts.set(attempt, step);
      return;
    }
    for (const { reservationId, quantity } of record.holds) {
      const hold = this.holds.get(reservationId);
      if (hold?.record.cartId !== cartId || hold.status !== 'PENDING') {
        this.fail(`${step} ${reservationId} of ${cartId}: ${hold?.status ?? 'unknown'} hold`);
        continue;
      }
      const pinned = step === 'pinned';
      if (pinned ? hold.pinnedBy !== '' : hold.pinnedBy !== attempt) {
        this.fail(`${step} ${reservationId} by ${attempt}, pinned by '${hold.pinnedBy}'`);
      }
      if (pinned && !(quantity >= 1 && quantity <= hold.record.quantity)) {
        this.fail(`${reservationId} pinned to sell ${quantity} of ${hold.record.quantity}`);
      }
      hold.pinnedBy = pinned ? attempt : '';
      hold.pinnedQuantity = pinned ? quantity : 0;
    }
  }

  private decided(partition: number, record: CartRecord): void {
    const earlier = this.decisions.get(record.cartId);
    if (earlier !== undefined) {
      this.fail(`cart ${record.cartId} decided twice: ${earlier.decision}, ${record.decision}`);
      return;
    }
    if (partition !== Number.parseInt(record.cartId.slice(0, 4), 16)) {
      this.fail(`cart ${record.cartId} decided in partition ${partition}, not its home`);
    }
    this.decisions.set(record.cartId, record);
    if (record.decision !== 'committed') return;
    const bound = this.keys.get(record.idempotencyKey);
    if (bound !== undefined) {
      this.fail(`key ${record.idempotencyKey} bound twice: ${bound.cartId}, ${record.cartId}`);
    }
    this.keys.set(record.idempotencyKey, record);
    const landed = this.cartHolds.get(record.cartId) ?? [];
    for (const hold of record.holds) {
      const found = this.holds.get(hold.reservationId);
      const same =
        found !== undefined &&
        found.partition === hold.partition &&
        found.record.cartId === record.cartId &&
        found.record.productId === hold.productId &&
        found.record.warehouseId === hold.warehouseId &&
        found.record.quantity === hold.quantity;
      if (!same) this.fail(`cart ${record.cartId} committed before its hold ${hold.reservationId}`);
    }
    if (landed.length !== record.holds.length) {
      this.fail(
        `cart ${record.cartId} names ${record.holds.length} holds, ${landed.length} landed`,
      );
    }
  }

  private stockOf(key: string): Stock {
    let stock = this.stock.get(key);
    if (stock === undefined)
      this.stock.set(key, (stock = { onHand: 0, reserved: 0, incoming: 0, stockedAtVersion: 0 }));
    return stock;
  }

  private checkStock(productId: string, warehouseId: string): void {
    const stock = this.stockOf(`${productId}/${warehouseId}`);
    if (!(stock.reserved >= 0 && stock.reserved <= stock.onHand)) {
      this.fail(
        `oversold ${productId}/${warehouseId}: on_hand ${stock.onHand}, ` +
          `reserved ${stock.reserved} in the journal`,
      );
    }
  }
}
