// Transfers between two warehouses of one product: both keys live in one partition (hash v2), so
// each step is one actor turn whose records (the source's, then the destination's) are journaled
// as one atomic group. Pure and synchronous, like the rest of the domain.
import { merged } from './merged.js';
import type { ApplyResult, Write } from './apply-result.js';
import { StockActor, type TransferTerms } from './stock-actor.js';
import { termsOf, transferView, type Transfer, type TransferBook } from './transfer-book.js';
import type {
  LotUnits,
  Outcome,
  RejectionDetails,
  RetentionPolicy,
  TransferCommand,
  TransferIdCommand,
  TransferRecord,
  TransferStep,
} from './types.js';

/** What the transfer code may see and do of its partition (partition-state.ts). */
export interface TransferWork {
  readonly transfers: TransferBook;
  readonly retention: RetentionPolicy;
  actor(productId: string, warehouseId: string): StockActor | undefined;
  register(actor: StockActor): void;
  /** A live record's bookkeeping; gives it back with the lines it crossed. */
  recorded(actor: StockActor, record: TransferRecord): TransferRecord;
}

export function transferCommand(
  work: TransferWork,
  command: TransferCommand | TransferIdCommand,
  nowMs: number,
): ApplyResult {
  if (command.kind === 'transfer') return makeTransfer(work, command, nowMs);
  const transfer = work.transfers.byId.get(command.transferId);
  if (transfer === undefined) return refused('not_found', undefined, 'No such transfer.');
  const from = work.actor(transfer.productId, transfer.fromWarehouseId) as StockActor;
  const to = work.actor(transfer.productId, transfer.toWarehouseId) as StockActor;
  const observed = [from, to];
  const replayed = command.kind !== 'read-transfer';
  if (command.kind === 'read-transfer' || transfer.status !== 'IN_TRANSIT') {
    const wanted = command.kind === 'transfer-cancel' ? 'CANCELLED' : 'RECEIVED';
    if (command.kind !== 'read-transfer' && transfer.status !== wanted) {
      const code = transfer.status === 'RECEIVED' ? 'transfer_received' : 'transfer_cancelled';
      const message = `The transfer is ${transfer.status}.`;
      return merged(refused(code, { status: transfer.status }, message), { observed });
    }
    return merged(current(transfer, from, to, replayed), { observed });
  }
  const steps: [StockActor, TransferStep][] =
    command.kind === 'transfer-receive'
      ? [[to, 'in']]
      : [
          [from, 'cancel'],
          [to, 'cancel'],
        ];
  // Units arrive at the destination (receive) or go back to the source (cancel).
  const arriving = command.kind === 'transfer-receive' ? to : from;
  if (arriving.onHand + transfer.quantity > work.retention.onHandMax) {
    return merged(refused('validation_failed', { field: 'quantity' }, onHandMaxMessage), {
      observed,
    });
  }
  // A lot made at the destination meanwhile, with another date: the units cannot join it.
  const clash = lotClash(arriving, transfer.lots);
  if (clash !== undefined) return merged(clash, { observed });
  // Lots made there meanwhile may have used up its bound: refused, never kept beyond it.
  if (transfer.lots !== undefined && lotsBeyondBound(work, arriving, transfer.lots)) {
    const message = `${arriving.warehouseId} would keep more than its bound of lots`;
    return merged(refused('validation_failed', { field: 'quantity' }, message), { observed });
  }
  const writes = steps.map(([actor, step]) =>
    write(work, actor, step, transfer, nowMs, command.traceId),
  );
  return merged(current(transfer, from, to, false), { writes, observed });
}

function makeTransfer(work: TransferWork, command: TransferCommand, nowMs: number): ApplyResult {
  const { productId, fromWarehouseId, toWarehouseId, quantity } = command;
  const earlier = work.transfers.byIdempotencyKey(productId, command.idempotencyKey);
  if (earlier !== undefined) return replayAnswer(work, earlier, command);
  if (fromWarehouseId === toWarehouseId) {
    const message = 'to_warehouse_id must differ from from_warehouse_id';
    return refused('validation_failed', { field: 'to_warehouse_id' }, message);
  }
  const from = work.actor(productId, fromWarehouseId);
  if (from === undefined)
    return refused('not_found', undefined, 'This stock key was never stocked.');
  if (quantity > from.available) {
    return merged(refused('insufficient_stock', { available: from.available }), { actor: from });
  }
  const existing = work.actor(productId, toWarehouseId);
  const to = existing ?? new StockActor(productId, toWarehouseId);
  if (to.onHand + to.incoming + quantity > work.retention.onHandMax) {
    const outcome = refused('validation_failed', { field: 'quantity' }, onHandMaxMessage);
    return merged(outcome, { observed: existing === undefined ? [from] : [from, to] });
  }
  const inTransitMax = work.retention.transfersInTransitMax ?? transfersInTransitDefaultMax;
  if (command.inTransit && work.transfers.inTransit >= inTransitMax) {
    const message = 'This partition has as many transfers in transit as it may; retry later.';
    return merged(refused('overloaded', undefined, message), { actor: from });
  }
  const lots = from.lots?.takeFefo(quantity, 0);
  const clash = lotClash(to, lots);
  if (clash !== undefined)
    return merged(clash, { observed: existing === undefined ? [from] : [from, to] });
  if (lots !== undefined && lotsBeyondBound(work, to, lots)) {
    const message = `the destination would keep more than its bound of lots`;
    const outcome = refused('validation_failed', { field: 'quantity' }, message);
    return merged(outcome, { observed: existing === undefined ? [from] : [from, to] });
  }
  if (existing === undefined) work.register(to);
  const terms: TransferTerms = {
    transferId: command.transferId,
    fromWarehouseId,
    toWarehouseId,
    quantity,
    inTransit: command.inTransit,
    idempotencyKey: command.idempotencyKey,
    reason: command.reason,
    reference: command.reference ?? '',
    actorId: command.actorId,
    createdAtMs: nowMs,
    // From a key with lots, the units leave FEFO and travel with their lots and dates.
    ...(lots === undefined ? {} : { lots }),
  };
  const { traceId } = command;
  const writes = [
    write(work, from, 'out', terms, nowMs, traceId),
    write(work, to, command.inTransit ? 'incoming' : 'in', terms, nowMs, traceId),
  ];
  const transfer = work.transfers.byId.get(command.transferId) as Transfer;
  return merged(current(transfer, from, to, false), { writes, observed: [from, to] });
}

/** One key's record of a step, applied to the key and to the transfers. */
function write(
  work: TransferWork,
  actor: StockActor,
  step: TransferStep,
  terms: TransferTerms,
  nowMs: number,
  traceId: string,
): Write {
  const record = actor.transfer(step, termsOf(terms), nowMs, traceId);
  work.transfers.apply(record, actor.stockView());
  return { record: work.recorded(actor, record), actor };
}

/** Same key, same request: the first answer again; another request: refused. */
function replayAnswer(work: TransferWork, earlier: Transfer, command: TransferCommand) {
  const from = work.actor(earlier.productId, earlier.fromWarehouseId) as StockActor;
  const to = work.actor(earlier.productId, earlier.toWarehouseId) as StockActor;
  const same =
    earlier.fromWarehouseId === command.fromWarehouseId &&
    earlier.toWarehouseId === command.toWarehouseId &&
    earlier.quantity === command.quantity &&
    earlier.inTransit === command.inTransit &&
    earlier.reason === command.reason &&
    earlier.reference === (command.reference ?? '');
  if (!same) {
    const outcome = refused('idempotency_key_reused', { field: 'idempotency_key' });
    return merged(outcome, { observed: [from, to] });
  }
  const status = earlier.inTransit ? 'IN_TRANSIT' : 'RECEIVED';
  const firstTo = earlier.firstTo ?? to.stockView();
  const transfer = transferView(earlier, earlier.firstFrom, firstTo, status);
  const outcome: Outcome = { ok: true, transfer, replayed: true };
  return { outcome, record: undefined, actor: undefined, observed: [from, to] };
}

function current(transfer: Transfer, from: StockActor, to: StockActor, replayed: boolean) {
  const view = transferView(transfer, from.stockView(), to.stockView());
  const outcome: Outcome = { ok: true, transfer: view, replayed };
  return { outcome, record: undefined, actor: undefined };
}

function refused(
  code: Extract<Outcome, { ok: false }>['code'],
  details?: RejectionDetails,
  message?: string,
): ApplyResult {
  const outcome: Outcome = {
    ok: false,
    code,
    ...(message === undefined ? {} : { message }),
    ...(details === undefined ? {} : { details }),
  };
  return { outcome, record: undefined, actor: undefined };
}

const onHandMaxMessage = 'on_hand would exceed its bound';
const lotsPerKeyDefaultMax = 1000;

/**
 * A refusal when a lot the transfer carries exists at `to` with another date (a lot's date never
 * changes, and units of two dates are never one lot); undefined when none does.
 */
function lotClash(to: StockActor, lots: readonly LotUnits[] | undefined): ApplyResult | undefined {
  for (const units of lots ?? []) {
    const lot = to.lots?.get(units.lotId);
    if (lot === undefined || lot.expiresOn === (units.expiresOn ?? '')) continue;
    const message = `lot ${units.lotId} has another expires_on at ${to.warehouseId}`;
    return refused('validation_failed', { field: 'quantity' }, message);
  }
  return undefined;
}

/** Whether the lots a transfer brings would take the destination beyond its bound of lots. */
function lotsBeyondBound(work: TransferWork, to: StockActor, lots: readonly LotUnits[]): boolean {
  // A destination without lots yet gets its unnamed lot too, if it has units.
  const ids = new Set(to.lots?.lots.map((lot) => lot.lotId) ?? (to.onHand > 0 ? [''] : []));
  for (const units of lots) ids.add(units.lotId);
  return ids.size > (work.retention.lotsPerKeyMax ?? lotsPerKeyDefaultMax);
}
const transfersInTransitDefaultMax = 100_000;
