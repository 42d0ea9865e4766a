// A stock key's movement history (GET /v1/stock/:product_id/:warehouse_id/movements): read from
// the journal's movement table by a reader the composition root passes in (src/persistence,
// HistoryStore), rendered here.
import type { Movement } from '../actors/index.js';
import { isoTime } from '../iso-time.js';
import { lotUnitsObjects } from './reply-render.js';

export interface MovementPage {
  readonly movements: readonly Movement[];
  /** The version the page after ends before; undefined on the last page. */
  readonly nextBefore: number | undefined;
}

/** Where the history comes from: the durable journal, never the shards' memory. */
export interface MovementHistory {
  page(
    productId: string,
    warehouseId: string,
    beforeVersion: number | undefined,
    limit: number,
  ): Promise<MovementPage>;
}

const optionalFields = [
  ['reservationId', 'reservation_id'],
  ['cartId', 'cart_id'],
  ['transferId', 'transfer_id'],
  ['buyerId', 'buyer_id'],
  ['reason', 'reason'],
  ['reference', 'reference'],
  ['subject', 'subject'],
  ['traceId', 'trace_id'],
] as const;

export function movementObject(movement: Movement): Record<string, unknown> {
  const body: Record<string, unknown> = {
    version: movement.version,
    type: movement.type,
    quantity: movement.quantity,
    on_hand: movement.onHand,
    reserved: movement.reserved,
    incoming: movement.incoming,
    at: isoTime(movement.atMs),
  };
  for (const [name, json] of optionalFields) {
    const value = movement[name];
    if (value !== undefined && value !== '') body[json] = value;
  }
  if (movement.lots !== undefined) body.lots = lotUnitsObjects(movement.lots);
  return body;
}

export function movementPageJson(movements: readonly Movement[], next: string | null): string {
  return JSON.stringify({ movements: movements.map(movementObject), next });
}
