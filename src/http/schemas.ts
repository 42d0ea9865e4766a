// Request shapes as field specifications: each field knows how to check a value and how to
// describe itself as JSON Schema. The validator and the OpenAPI document both come from here,
// so what is documented is exactly what is enforced.
import { reasonLengthMax } from '../limits.js';

export type JsonSchema = Readonly<Record<string, unknown>>;

export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export interface FieldSpec<T> {
  readonly schema: JsonSchema;
  /** Returns the checked value or throws a ValidationError naming `field`. */
  parse(value: unknown, field: string): T;
}

export interface ValidationLimits {
  readonly quantityMax: number;
  readonly ttlSecondsMin: number;
  readonly ttlSecondsMax: number;
  readonly ttlSecondsDefault: number;
  /** The largest |delta| one adjust may carry. */
  readonly adjustDeltaMax: number;
}

const stockIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;
const idempotencyKeyPattern = /^[\x20-\x7e]{16,128}$/;
const uuidPattern = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** String.prototype.isWellFormed (Node 20) is missing from the ES2023 lib typings. */
function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

function patterned(pattern: RegExp, schema: JsonSchema, rule: string): FieldSpec<string> {
  return {
    schema: { type: 'string', pattern: pattern.source, ...schema },
    parse(value, field) {
      if (typeof value !== 'string' || !pattern.test(value)) {
        throw new ValidationError(field, `${field} must be ${rule}`);
      }
      return value;
    },
  };
}

export const stockIdField = patterned(
  stockIdPattern,
  { minLength: 1, maxLength: 64 },
  '1..64 characters of [A-Za-z0-9._:-]',
);

export const idempotencyKeyField = patterned(
  idempotencyKeyPattern,
  { minLength: 16, maxLength: 128 },
  '16..128 printable ASCII characters',
);

export const reservationIdField: FieldSpec<string> = {
  schema: { type: 'string', format: 'uuid' },
  parse(value, field) {
    if (typeof value !== 'string' || !uuidPattern.test(value)) {
      throw new ValidationError(field, `${field} must be a UUID string`);
    }
    return value.toLowerCase();
  },
};

export function integerField(min: number, max: number, nonZero = false): FieldSpec<number> {
  const schema: JsonSchema = nonZero
    ? { type: 'integer', minimum: min, maximum: max, not: { const: 0 } }
    : { type: 'integer', minimum: min, maximum: max };
  return {
    schema,
    parse(value, field) {
      const ok =
        typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
      if (!ok || (nonZero && value === 0)) {
        const what = nonZero ? 'a non-zero integer' : 'an integer';
        throw new ValidationError(field, `${field} must be ${what} between ${min} and ${max}`);
      }
      return value;
    },
  };
}

export const reasonField: FieldSpec<string> = {
  schema: { type: 'string', maxLength: reasonLengthMax },
  parse(value, field) {
    // A lone surrogate would not survive the journal's UTF-8 unchanged, and a replayed adjust
    // must compare equal to the original after a restart.
    if (typeof value !== 'string' || value.length > reasonLengthMax || !isWellFormed(value)) {
      const rule = `a well-formed string of at most ${reasonLengthMax} characters`;
      throw new ValidationError(field, `${field} must be ${rule}`);
    }
    return value;
  },
};

interface FieldEntry {
  readonly spec: FieldSpec<unknown>;
  readonly required: boolean;
  readonly description: string;
}

/** An object body: named fields, some required. Unknown fields are ignored (forward-compatible). */
export class ObjectSpec<Shape extends Record<string, unknown>> {
  constructor(private readonly fields: { readonly [K in keyof Shape]: FieldEntry }) {}

  parse(body: Record<string, unknown>): Partial<Shape> {
    const parsed: Record<string, unknown> = {};
    for (const name in this.fields) {
      const entry = this.fields[name];
      const value = body[name];
      if (value === undefined) {
        if (entry.required) throw new ValidationError(name, `${name} is required`);
        continue;
      }
      parsed[name] = entry.spec.parse(value, name);
    }
    return parsed as Partial<Shape>;
  }

  get schema(): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const name in this.fields) {
      const entry = this.fields[name];
      properties[name] = { ...entry.spec.schema, description: entry.description };
      if (entry.required) required.push(name);
    }
    return { type: 'object', properties, required };
  }
}

const field = <T>(spec: FieldSpec<T>, required: boolean, description: string): FieldEntry => ({
  spec: spec as FieldSpec<unknown>,
  required,
  description,
});

export interface ReserveBody extends Record<string, unknown> {
  product_id: string;
  warehouse_id: string;
  quantity: number;
  idempotency_key: string;
  ttl_seconds: number;
}

export interface ReservationBody extends Record<string, unknown> {
  reservation_id: string;
}

export interface AdjustBody extends Record<string, unknown> {
  product_id: string;
  warehouse_id: string;
  delta: number;
  reason: string;
  idempotency_key: string;
}

export interface RequestSpecs {
  readonly reserve: ObjectSpec<ReserveBody>;
  readonly reservation: ObjectSpec<ReservationBody>;
  readonly adjust: ObjectSpec<AdjustBody>;
}

export function requestSpecs(limits: ValidationLimits): RequestSpecs {
  const ttl = integerField(limits.ttlSecondsMin, limits.ttlSecondsMax);
  return {
    reserve: new ObjectSpec<ReserveBody>({
      product_id: field(stockIdField, true, 'Product id; with warehouse_id, the stock key'),
      warehouse_id: field(stockIdField, true, 'Warehouse id'),
      quantity: field(integerField(1, limits.quantityMax), true, 'Units to hold'),
      idempotency_key: field(idempotencyKeyField, true, 'Client-chosen key; retries reuse it'),
      ttl_seconds: field(ttl, false, `Hold lifetime; default ${limits.ttlSecondsDefault}`),
    }),
    reservation: new ObjectSpec<ReservationBody>({
      reservation_id: field(reservationIdField, true, 'The id /v1/reserve returned'),
    }),
    adjust: new ObjectSpec<AdjustBody>({
      product_id: field(stockIdField, true, 'Product id; with warehouse_id, the stock key'),
      warehouse_id: field(stockIdField, true, 'Warehouse id'),
      delta: field(
        integerField(-limits.adjustDeltaMax, limits.adjustDeltaMax, true),
        true,
        'Change of on_hand (non-zero)',
      ),
      reason: field(reasonField, false, 'Why (kept in the journal and the audit log)'),
      idempotency_key: field(idempotencyKeyField, false, 'Makes the adjustment safe to retry'),
    }),
  };
}
