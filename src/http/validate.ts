// Request bodies to commands, through the field specifications of schemas.ts. A violation is a
// 422 naming the field, and nothing reaches a shard.
import type { RoutableCommand } from '../router/index.js';
import {
  ValidationError,
  requestSpecs,
  reservationIdField,
  stockIdField,
  type RequestSpecs,
  type ValidationLimits,
} from './schemas.js';

export { ValidationError, type ValidationLimits };

type Body = Record<string, unknown>;

/** Who is asking: the token's subject when auth is on, else empty. */
export interface Caller {
  readonly subject: string;
}

export function stockId(value: unknown, field: string): string {
  return stockIdField.parse(value, field);
}

export function reservationId(value: unknown): string {
  return reservationIdField.parse(value, 'reservation_id');
}

export class RequestValidator {
  readonly specs: RequestSpecs;

  constructor(readonly limits: ValidationLimits) {
    this.specs = requestSpecs(limits);
  }

  reserve(body: Body, traceId: string, caller: Caller): RoutableCommand {
    const parsed = this.specs.reserve.parse(body);
    return {
      kind: 'reserve',
      productId: parsed.product_id as string,
      warehouseId: parsed.warehouse_id as string,
      quantity: parsed.quantity as number,
      idempotencyKey: parsed.idempotency_key as string,
      ttlSeconds: parsed.ttl_seconds ?? this.limits.ttlSecondsDefault,
      requesterId: caller.subject,
      traceId,
    };
  }

  reservation(kind: 'confirm' | 'release', body: Body, traceId: string): RoutableCommand {
    const parsed = this.specs.reservation.parse(body);
    return { kind, reservationId: parsed.reservation_id as string, traceId };
  }

  adjust(body: Body, traceId: string, caller: Caller): RoutableCommand {
    const parsed = this.specs.adjust.parse(body);
    return {
      kind: 'adjust',
      productId: parsed.product_id as string,
      warehouseId: parsed.warehouse_id as string,
      delta: parsed.delta as number,
      reason: parsed.reason ?? '',
      idempotencyKey: parsed.idempotency_key ?? '',
      actorId: caller.subject,
      traceId,
    };
  }
}
