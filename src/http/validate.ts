// Request bodies to commands. Every rule of API.md's request shapes lives here; a violation is a
// 422 naming the field, and nothing reaches a shard.
import { reasonLengthMax } from '../limits.js';
import type { RoutableCommand } from '../router/index.js';

export interface ValidationLimits {
  readonly quantityMax: number;
  readonly ttlSecondsMin: number;
  readonly ttlSecondsMax: number;
  readonly ttlSecondsDefault: number;
  /** The largest |delta| one adjust may carry. */
  readonly adjustDeltaMax: number;
}

export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const idPattern = /^[A-Za-z0-9._:-]{1,64}$/;
const idempotencyKeyPattern = /^[\x20-\x7e]{16,128}$/;
const uuidPattern = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

type Body = Record<string, unknown>;

/** String.prototype.isWellFormed (Node 20) is missing from the ES2023 lib typings. */
function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

export function stockId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !idPattern.test(value)) {
    throw new ValidationError(field, `${field} must be 1..64 characters of [A-Za-z0-9._:-]`);
  }
  return value;
}

function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(field, `${field} must be an integer between ${min} and ${max}`);
  }
  return value;
}

function idempotencyKey(value: unknown, field = 'idempotency_key'): string {
  if (typeof value !== 'string' || !idempotencyKeyPattern.test(value)) {
    throw new ValidationError(field, `${field} must be 16..128 printable ASCII characters`);
  }
  return value;
}

export function reservationId(value: unknown): string {
  if (typeof value !== 'string' || !uuidPattern.test(value)) {
    throw new ValidationError('reservation_id', 'reservation_id must be a UUID string');
  }
  return value.toLowerCase();
}

export function reserveCommand(
  body: Body,
  limits: ValidationLimits,
  traceId: string,
): RoutableCommand {
  const ttl = body.ttl_seconds;
  return {
    kind: 'reserve',
    productId: stockId(body.product_id, 'product_id'),
    warehouseId: stockId(body.warehouse_id, 'warehouse_id'),
    quantity: integer(body.quantity, 'quantity', 1, limits.quantityMax),
    idempotencyKey: idempotencyKey(body.idempotency_key),
    ttlSeconds:
      ttl === undefined
        ? limits.ttlSecondsDefault
        : integer(ttl, 'ttl_seconds', limits.ttlSecondsMin, limits.ttlSecondsMax),
    requesterId: '',
    traceId,
  };
}

export function reservationCommand(
  kind: 'confirm' | 'release',
  body: Body,
  traceId: string,
): RoutableCommand {
  return { kind, reservationId: reservationId(body.reservation_id), traceId };
}

export function adjustCommand(
  body: Body,
  limits: ValidationLimits,
  traceId: string,
): RoutableCommand {
  const delta = integer(body.delta, 'delta', -limits.adjustDeltaMax, limits.adjustDeltaMax);
  if (delta === 0) throw new ValidationError('delta', 'delta must be a non-zero integer');
  const reason = body.reason;
  // A lone surrogate would not survive the journal's UTF-8 unchanged, and a replayed adjust must
  // compare equal to the original after a restart.
  const badReason =
    typeof reason !== 'string' || reason.length > reasonLengthMax || !isWellFormed(reason);
  if (reason !== undefined && badReason) {
    throw new ValidationError(
      'reason',
      `reason must be a well-formed string of at most ${reasonLengthMax} characters`,
    );
  }
  const key = body.idempotency_key;
  return {
    kind: 'adjust',
    productId: stockId(body.product_id, 'product_id'),
    warehouseId: stockId(body.warehouse_id, 'warehouse_id'),
    delta,
    reason: reason ?? '',
    idempotencyKey: key === undefined ? '' : idempotencyKey(key),
    actorId: '',
    traceId,
  };
}
