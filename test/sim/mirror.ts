// The reference model (test/model, which shares no code with src) of each partition a simulated
// shard owns, kept in step with it: every command the shard applies, every sweep it makes, is
// applied here first, so each reply has an expected answer and an observed stock-key version.
// After a failed write or a crash the models are rebuilt from what the journal durably holds,
// and each journal record must be a change the model allows, made by a request that was sent.
import { decodeRecord } from '../../src/persistence/index.js';
import type { JournalRecord } from '../../src/actors/index.js';
import type { MemoryJournal } from './memory-journal.js';
import { ReferenceLedger, type ModelReply, type ModelRequest } from '../model/reference-ledger.js';

const limits = { onHandMax: 1_000_000_000_000 };

export interface Applied {
  readonly reply: ModelReply;
  /** The stock key the answer observed ('' if none) and its version then. */
  readonly key: string;
  readonly version: number;
  /** Whether the request changed state (it then has a journal record). */
  readonly changed: boolean;
}

/** What was sent, by trace id: the journal's records must each come from one of these. */
export interface SentRequest {
  readonly request: ModelRequest;
}

export const keyOf = (productId: string, warehouseId: string): string =>
  `${productId}/${warehouseId}`;

export class Mirror {
  private models = new Map<number, ReferenceLedger>();

  constructor(readonly partitions: readonly number[]) {
    for (const partition of partitions) this.models.set(partition, this.fresh());
  }

  private fresh(): ReferenceLedger {
    return new ReferenceLedger(limits, 'swept');
  }

  model(partition: number): ReferenceLedger {
    const model = this.models.get(partition);
    if (model === undefined) throw new Error(`no model of partition ${partition}`);
    return model;
  }

  apply(partition: number, request: ModelRequest, nowMs: number): Applied {
    const model = this.model(partition);
    const key = this.keyNamed(model, request);
    const before = key === '' ? 0 : (this.versionOf(model, key) ?? 0);
    const reply = model.apply(request, nowMs);
    const after = key === '' ? 0 : (this.versionOf(model, key) ?? 0);
    return { reply, key, version: after, changed: after > before };
  }

  /** The shard's sweep over all its partitions: `max` holds at most, earliest first. */
  sweep(nowMs: number, max: number): string[] {
    return ReferenceLedger.sweepAll([...this.models.values()], nowMs, max);
  }

  private keyNamed(model: ReferenceLedger, request: ModelRequest): string {
    if ('productId' in request) return keyOf(request.productId, request.warehouseId);
    const hold = model.reservation(request.reservationId);
    return hold === undefined ? '' : keyOf(hold.productId, hold.warehouseId);
  }

  private versionOf(model: ReferenceLedger, key: string): number | undefined {
    const [productId, warehouseId] = key.split('/') as [string, string];
    return model.stock(productId, warehouseId)?.version;
  }

  /** Every stock key and hold the models know: what a census reads back. */
  census(): { keys: [number, string, string][]; holds: [number, string][] } {
    const keys: [number, string, string][] = [];
    const holds: [number, string][] = [];
    for (const [partition, model] of this.models) {
      for (const hold of model.reservations()) {
        holds.push([partition, hold.id]);
        const key = keyOf(hold.productId, hold.warehouseId);
        if (!keys.some(([, p, w]) => keyOf(p, w) === key)) {
          keys.push([partition, hold.productId, hold.warehouseId]);
        }
      }
      for (const key of model.stockKeys()) {
        if (!keys.some(([, p, w]) => p === key.productId && w === key.warehouseId)) {
          keys.push([partition, key.productId, key.warehouseId]);
        }
      }
    }
    return { keys, holds };
  }

  /**
   * Rebuilds every model from the journal alone and checks it on the way: lsns from 1 up to the
   * first gap (rows past it were never acknowledged, and recovery removes them), each record a
   * change the model allows from a request that was sent (expiries from the sweep carry no trace
   * id), and no request in it twice. Returns the trace ids found.
   */
  rebuild(journal: MemoryJournal, sent: ReadonlyMap<string, SentRequest>): Map<string, number> {
    const traces = new Map<string, number>();
    const models = new Map<number, ReferenceLedger>();
    for (const partition of this.partitions) {
      const model = this.fresh();
      models.set(partition, model);
      let expected = 1;
      let gap = false;
      for (const [lsn, payload] of journal.rowsAfter(partition, 0)) {
        gap ||= lsn !== expected;
        if (gap) break;
        expected += 1;
        const record = decodeRecord(payload);
        if (record.traceId !== '')
          traces.set(record.traceId, (traces.get(record.traceId) ?? 0) + 1);
        replayInto(model, record, sent, `${partition}:${lsn}`);
      }
    }
    this.models = models;
    return traces;
  }
}

/** Applies one journal record to the model as the request that made it; throws if it cannot. */
function replayInto(
  model: ReferenceLedger,
  record: JournalRecord,
  sent: ReadonlyMap<string, SentRequest>,
  where: string,
): void {
  const origin = record.traceId === '' ? undefined : sent.get(record.traceId);
  if (record.traceId !== '' && origin === undefined) {
    throw new Error(`${where}: a ${record.type} record of trace ${record.traceId}, never sent`);
  }
  const fail = (why: string): never => {
    throw new Error(`${where}: ${record.type} record ${JSON.stringify(record)}: ${why}`);
  };
  if (record.type === 'expired') {
    // By the sweep (no trace) or found expired by a request naming the hold.
    if (origin !== undefined && !('reservationId' in origin.request)) fail('not from a hold');
    try {
      model.expire(record.reservationId, record.atMs);
    } catch (error) {
      fail((error as Error).message);
    }
    return;
  }
  if (origin === undefined) return fail('a change without a request');
  const request = origin.request;
  const reply = model.apply(request, record.atMs);
  if (!reply.ok) fail(`the model refuses it: ${reply.code}`);
  if (record.type === 'adjusted') {
    if (request.kind !== 'adjust' || !reply.ok || !('stock' in reply) || reply.replayed === true)
      fail('not a fresh adjust');
    else if (reply.stock.onHand !== record.onHand || reply.stock.version !== record.version)
      fail(`the model has on_hand ${reply.stock.onHand} at version ${reply.stock.version}`);
    return;
  }
  if (!reply.ok || !('reservation' in reply)) return fail('no reservation answer');
  if (record.type !== 'reserved' && record.type !== 'confirmed' && record.type !== 'released')
    return fail('a record the mirror does not know yet');
  const wanted = { reserved: 'PENDING', confirmed: 'CONFIRMED', released: 'RELEASED' }[record.type];
  if (request.kind === 'reserve' && (record.type !== 'reserved' || reply.replayed === true))
    fail('a reserve that did not hold');
  if (reply.reservation.status !== wanted || reply.reservation.id !== record.reservationId)
    fail(`the model answers ${reply.reservation.id} ${reply.reservation.status}`);
}
