// The adjust a micro-benchmark stocks its keys with: no idempotency key, no trace, made by the
// bench. One literal, so every bench stocks the same way.
import type { AdjustCommand, LotRequest } from '../../src/actors/index.js';

export function stockAdjust(
  productId: string,
  warehouseId: string,
  delta: number,
  lot?: LotRequest,
): AdjustCommand {
  return {
    kind: 'adjust',
    productId,
    warehouseId,
    delta,
    reason: 'bench',
    idempotencyKey: '',
    actorId: 'bench',
    traceId: '',
    ...(lot === undefined ? {} : { lot }),
  };
}
