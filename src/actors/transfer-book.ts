// A partition's transfers: by id, by idempotency key, and the bounded retention of finished ones.
// Changed only by `applyTransferEntry`, which live applies and replay share, so recovery keeps
// exactly the transfers (and the retained ones) the live partition kept.
import { merged } from './merged.js';
import { assert, fail } from './assert.js';
import type { TransferTerms } from './stock-actor.js';
import type {
  RetentionPolicy,
  StockView,
  TransferRecord,
  TransferStatus,
  TransferView,
} from './types.js';

export interface Transfer extends TransferTerms {
  readonly productId: string;
  status: TransferStatus;
  /** When it was received or cancelled; 0 while in transit. */
  finishedAtMs: number;
  /** Both keys as the answer that made the transfer saw them: its idempotent replays repeat it. */
  firstFrom: StockView;
  firstTo: StockView | undefined;
}

/** The transfer's terms, exactly (no other fields), as each of its records repeats them. */
export function termsOf(transfer: TransferTerms): TransferTerms {
  const { transferId, fromWarehouseId, toWarehouseId, quantity, inTransit } = transfer;
  const { idempotencyKey, reason, reference, actorId, createdAtMs, lots } = transfer;
  const terms = {
    transferId,
    fromWarehouseId,
    toWarehouseId,
    quantity,
    inTransit,
    idempotencyKey,
    reason,
    reference,
    actorId,
    createdAtMs,
  };
  return lots === undefined ? terms : merged(terms, { lots });
}

/** A key's view from a transfer record's counts (the key as it stood after that record). */
export function recordView(record: TransferRecord): StockView {
  const { productId, warehouseId, onHand, reserved, version, incoming } = record;
  const view = { productId, warehouseId, onHand, reserved, available: onHand - reserved, version };
  return incoming === 0 ? view : merged(view, { incoming });
}

export class TransferBook {
  readonly byId = new Map<string, Transfer>();
  /** `product NUL idempotency key`: a transfer's key is scoped to its product. */
  private readonly byKey = new Map<string, Transfer>();
  /** Transfers in transit: never forgotten, bounded by the retention policy. */
  inTransit = 0;
  // Finished transfers in the order they finished, oldest first from `head`.
  private finishedIds: string[] = [];
  private finishedAtMs: number[] = [];
  private head = 0;

  byIdempotencyKey(productId: string, key: string): Transfer | undefined {
    return this.byKey.get(`${productId}\u0000${key}`);
  }

  /**
   * Applies a transfer record to the transfers (its key has already applied it). `view`: the
   * key's view after it, as the transfer's first answer shows it (lots included); by default the
   * record's own counts.
   */
  apply(record: TransferRecord, view = recordView(record)): Transfer {
    if (record.step === 'out') return this.made(record, view);
    const transfer = this.byId.get(record.transferId);
    if (transfer === undefined) fail(`a transfer record for unknown ${record.transferId}`);
    if (transfer.status !== 'IN_TRANSIT') fail(`a ${record.step} of a ${transfer.status}`);
    const source = record.warehouseId === transfer.fromWarehouseId;
    if (record.step === 'cancel' && source) return transfer;
    if (transfer.firstTo === undefined) {
      // The destination's half of the step that made the transfer.
      transfer.firstTo = view;
      if (record.step === 'incoming') {
        this.inTransit += 1;
        return transfer;
      }
      assert(record.step === 'in' && !transfer.inTransit, 'a direct transfer that did not arrive');
    } else {
      assert(record.step === 'in' || record.step === 'cancel', 'a transfer shipped twice');
      this.inTransit -= 1;
    }
    transfer.status = record.step === 'in' ? 'RECEIVED' : 'CANCELLED';
    transfer.finishedAtMs = record.atMs;
    this.finishedIds.push(transfer.transferId);
    this.finishedAtMs.push(record.atMs);
    return transfer;
  }

  private made(record: TransferRecord, view: StockView): Transfer {
    if (this.byId.has(record.transferId)) fail(`transfer ${record.transferId} made twice`);
    const transfer: Transfer = merged(termsOf(record), {
      productId: record.productId,
      status: 'IN_TRANSIT' as const,
      finishedAtMs: 0,
      firstFrom: view,
      firstTo: undefined,
    });
    this.add(transfer);
    return transfer;
  }

  /** Adds a transfer (made, or restored from a snapshot). */
  add(transfer: Transfer): void {
    this.byId.set(transfer.transferId, transfer);
    this.byKey.set(`${transfer.productId}\u0000${transfer.idempotencyKey}`, transfer);
    if (transfer.status === 'IN_TRANSIT' && transfer.firstTo !== undefined) this.inTransit += 1;
  }

  /** Snapshot restore: a finished entry, in the order captured, without pruning. */
  restoreFinished(transferId: string, atMs: number): void {
    this.finishedIds.push(transferId);
    this.finishedAtMs.push(atMs);
  }

  /** The finished queue, oldest first, for snapshots. */
  *finishedEntries(): Generator<readonly [transferId: string, atMs: number]> {
    for (let index = this.head; index < this.finishedIds.length; index += 1) {
      yield [this.finishedIds[index] as string, this.finishedAtMs[index] as number];
    }
  }

  get finishedCount(): number {
    return this.finishedIds.length - this.head;
  }

  /** Forgets finished transfers beyond the count bound or older than the retention time. */
  prune(nowMs: number, retention: RetentionPolicy): void {
    const oldestKeptMs = nowMs - retention.retainFinishedMs;
    const length = this.finishedIds.length;
    while (this.head < length) {
      const atMs = this.finishedAtMs[this.head] as number;
      if (length - this.head <= retention.retainFinishedMax && atMs >= oldestKeptMs) break;
      this.forget(this.finishedIds[this.head] as string);
      this.head += 1;
    }
    if (this.head > 1024 && this.head * 2 > length) {
      this.finishedIds = this.finishedIds.slice(this.head);
      this.finishedAtMs = this.finishedAtMs.slice(this.head);
      this.head = 0;
    }
  }

  private forget(transferId: string): void {
    const transfer = this.byId.get(transferId);
    assert(transfer !== undefined && transfer.status !== 'IN_TRANSIT', 'forgetting a live one');
    this.byId.delete(transferId);
    const key = `${transfer.productId}\u0000${transfer.idempotencyKey}`;
    if (this.byKey.get(key) === transfer) this.byKey.delete(key);
  }
}

/** A transfer's body: its state now, with both keys' views (as first answered, for a replay). */
export function transferView(
  transfer: Transfer,
  from: StockView,
  to: StockView,
  status = transfer.status,
): TransferView {
  const view: TransferView = {
    transferId: transfer.transferId,
    status,
    productId: transfer.productId,
    fromWarehouseId: transfer.fromWarehouseId,
    toWarehouseId: transfer.toWarehouseId,
    quantity: transfer.quantity,
    createdAtMs: transfer.createdAtMs,
    ...(status === 'RECEIVED' ? { receivedAtMs: transfer.finishedAtMs } : {}),
    ...(status === 'CANCELLED' ? { cancelledAtMs: transfer.finishedAtMs } : {}),
    ...(transfer.reason === '' ? {} : { reason: transfer.reason }),
    ...(transfer.reference === '' ? {} : { reference: transfer.reference }),
    ...(transfer.lots === undefined ? {} : { lots: transfer.lots }),
    from,
    to,
  };
  return view;
}
