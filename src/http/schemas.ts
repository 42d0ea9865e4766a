// Request shapes as field specifications: each field knows how to check a value and how to
// describe itself as JSON Schema. The validator and the OpenAPI document both come from here,
// so what is documented is exactly what is enforced.
import {
  movementPageItemsDefault,
  movementPageItemsMax,
  onHandMax,
  reasonLengthMax,
  stockPageItemsDefault,
  stockPageItemsMax,
} from '../limits.js';
import type { StockKey } from '../router/index.js';

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
  /** The most lines one cart may have. */
  readonly cartLinesMax: number;
}

/** The most entries of a cart confirm's `lines` (the body limit cuts far fewer anyway). */
export const cartConfirmLinesMax = 1000;
/** The most warehouses a product's `warehouse_priority` may list. */
export const warehousePriorityMax = 32;
/** The bounds of a purchase limit and of its window (cart-choices.md). */
export const maxPerBuyerMax = 1_000_000;
export const limitWindowSecondsMin = 60;
export const limitWindowSecondsMax = 30 * 86_400;

const stockIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;
const idempotencyKeyPattern = /^[\x20-\x7e]{16,128}$/;
const buyerIdPattern = /^[A-Za-z0-9._:@-]{1,128}$/;
const referencePattern = /^[\x20-\x7e]{1,256}$/;
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

export const buyerIdField = patterned(
  buyerIdPattern,
  { minLength: 1, maxLength: 128 },
  '1..128 characters of [A-Za-z0-9._:@-]',
);

export const referenceField = patterned(
  referencePattern,
  { minLength: 1, maxLength: 256 },
  '1..256 printable ASCII characters',
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

export const booleanField: FieldSpec<boolean> = {
  schema: { type: 'boolean' },
  parse(value, field) {
    if (typeof value !== 'boolean') throw new ValidationError(field, `${field} must be a boolean`);
    return value;
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

/** An integer sent as text (a query parameter): decimal digits only, no sign, no exponent. */
export function textIntegerField(min: number, max: number): FieldSpec<number> {
  const numeric = integerField(min, max);
  return {
    schema: numeric.schema,
    parse(value, field) {
      const digits = typeof value === 'string' && /^[0-9]{1,16}$/.test(value);
      return numeric.parse(digits ? Number(value) : undefined, field);
    },
  };
}

// The stock listing's cursor: the last key of a page, handed out as an opaque token (base64url
// of `product_id/warehouse_id`; `/` is no id character) and read back from `after`. Only the
// exact form written here is read back.
const cursorSeparator = '/';
/** Two ids of at most 64 characters and the separator: 129 bytes, 172 base64url characters. */
const cursorPattern = /^[A-Za-z0-9_-]{1,172}$/;

export function encodeStockCursor(key: StockKey): string {
  return Buffer.from(`${key.productId}${cursorSeparator}${key.warehouseId}`).toString('base64url');
}

function decodeStockCursor(text: string): StockKey | undefined {
  if (!cursorPattern.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  // Base64 decoding skips what it cannot read: only a cursor that encodes back to itself is one.
  if (bytes.toString('base64url') !== text) return undefined;
  const parts = bytes.toString('latin1').split(cursorSeparator);
  const [productId, warehouseId] = parts;
  if (parts.length !== 2 || productId === undefined || warehouseId === undefined) return undefined;
  if (!stockIdPattern.test(productId) || !stockIdPattern.test(warehouseId)) return undefined;
  return { productId, warehouseId };
}

export const stockCursorField: FieldSpec<StockKey> = {
  schema: { type: 'string', pattern: cursorPattern.source },
  parse(value, field) {
    const key = typeof value === 'string' ? decodeStockCursor(value) : undefined;
    if (key === undefined) {
      throw new ValidationError(field, `${field} must be the next of a page of this listing`);
    }
    return key;
  },
};

const movementCursorPrefix = 'v';
const movementCursorPattern = /^[A-Za-z0-9_-]{1,24}$/;

/** A history page's `next`: opaque to clients, it names the version the next page ends before. */
export function encodeMovementCursor(version: number): string {
  return Buffer.from(`${movementCursorPrefix}${version}`).toString('base64url');
}

function decodeMovementCursor(text: string): number | undefined {
  if (!movementCursorPattern.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text) return undefined;
  const match = /^v([1-9][0-9]{0,15})$/.exec(bytes.toString('latin1'));
  const version = match === null ? Number.NaN : Number(match[1]);
  return Number.isSafeInteger(version) ? version : undefined;
}

export const movementCursorField: FieldSpec<number> = {
  schema: { type: 'string', pattern: movementCursorPattern.source },
  parse(value, field) {
    const version = typeof value === 'string' ? decodeMovementCursor(value) : undefined;
    if (version === undefined) {
      throw new ValidationError(field, `${field} must be the next of a page of this history`);
    }
    return version;
  },
};

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

/** A field that may also be `null` (which clears a setting). */
export function nullable<T>(spec: FieldSpec<T>): FieldSpec<T | null> {
  return {
    schema: { anyOf: [spec.schema, { type: 'null' }] },
    parse(value, field) {
      return value === null ? null : spec.parse(value, field);
    },
  };
}

/**
 * An array of ids without duplicates. A bad entry is reported under the array's own name (the
 * message says which entry), as every error inside an array is: `details.field` is always a
 * top-level field of the body.
 */
export function idListField(idSpec: FieldSpec<string>, itemsMax: number): FieldSpec<string[]> {
  return {
    schema: { type: 'array', items: idSpec.schema, maxItems: itemsMax, uniqueItems: true },
    parse(value, field) {
      if (!Array.isArray(value) || value.length > itemsMax) {
        throw new ValidationError(field, `${field} must be an array of at most ${itemsMax} ids`);
      }
      const seen = new Set<string>();
      value.forEach((item: unknown, index) => {
        const id = within(field, index, () => idSpec.parse(item, `${field}[${index}]`));
        if (seen.has(id)) throw new ValidationError(field, `${field} names ${id} twice`);
        seen.add(id);
      });
      return [...seen];
    },
  };
}

/** Runs an entry's check, reporting its failure under the array's name. */
function within<T>(field: string, index: number, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const where = `${field}[${index}]`;
    // Entries' own messages start with their field name; put the entry's position before it.
    const message = error.message.startsWith(where) ? error.message : `${where}.${error.message}`;
    throw new ValidationError(field, message);
  }
}

/** An array of objects, `itemsMin..itemsMax` of them, each checked by `item`. */
export function objectListField<Item extends Record<string, unknown>>(
  item: ObjectSpec<Item>,
  itemsMin: number,
  itemsMax: number,
): FieldSpec<Partial<Item>[]> {
  return {
    schema: { type: 'array', items: item.schema, minItems: itemsMin, maxItems: itemsMax },
    parse(value, field) {
      if (!Array.isArray(value) || value.length < itemsMin || value.length > itemsMax) {
        const rule = `an array of ${itemsMin} to ${itemsMax} objects`;
        throw new ValidationError(field, `${field} must be ${rule}`);
      }
      return value.map((entry: unknown, index) =>
        within(field, index, () => {
          if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
            throw new ValidationError(field, `${field}[${index}] must be an object`);
          }
          return item.parse(entry as Record<string, unknown>);
        }),
      );
    },
  };
}

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
  buyer_id: string;
  reference: string;
}

export interface ReservationBody extends Record<string, unknown> {
  reservation_id: string;
}

export interface ConfirmBody extends ReservationBody {
  quantity: number;
}

export interface ExtendBody extends ReservationBody {
  ttl_seconds: number;
}

export interface AdjustBody extends Record<string, unknown> {
  product_id: string;
  warehouse_id: string;
  delta: number;
  reason: string;
  idempotency_key: string;
  expected_version: number;
  reference: string;
  lot: Partial<LotBody>;
}

export interface TransferBody extends Record<string, unknown> {
  product_id: string;
  from_warehouse_id: string;
  to_warehouse_id: string;
  quantity: number;
  idempotency_key: string;
  in_transit: boolean;
  reason: string;
  reference: string;
}

export interface SetBody extends Record<string, unknown> {
  product_id: string;
  warehouse_id: string;
  on_hand: number;
  expected_version: number;
  reason: string;
  reference: string;
  idempotency_key: string;
}

export interface SettingsBody extends Record<string, unknown> {
  max_per_buyer: number | null;
  limit_window_seconds: number | null;
  warehouse_priority: string[] | null;
  low_stock_threshold: number | null;
}

export interface CartLineBody extends Record<string, unknown> {
  product_id: string;
  warehouse_id: string;
  quantity: number;
}

export interface CartBody extends Record<string, unknown> {
  idempotency_key: string;
  lines: Partial<CartLineBody>[];
  ttl_seconds: number;
  buyer_id: string;
  reference: string;
}

export interface CartConfirmLineBody extends Record<string, unknown> {
  reservation_id: string;
  quantity: number;
}

export interface CartConfirmBody extends Record<string, unknown> {
  lines: Partial<CartConfirmLineBody>[];
}

export interface CartExtendBody extends Record<string, unknown> {
  ttl_seconds: number;
}

/** The stock listing's query parameters (text, as a query string carries them). */
export interface StockPageParameters extends Record<string, unknown> {
  product_id: string;
  after: StockKey;
  limit: number;
}

/** A key's movement history's query parameters. */
export interface MovementPageParameters extends Record<string, unknown> {
  before: number;
  limit: number;
}

export interface RequestSpecs {
  readonly reserve: ObjectSpec<ReserveBody>;
  readonly reservation: ObjectSpec<ReservationBody>;
  readonly confirm: ObjectSpec<ConfirmBody>;
  readonly extend: ObjectSpec<ExtendBody>;
  readonly adjust: ObjectSpec<AdjustBody>;
  readonly set: ObjectSpec<SetBody>;
  readonly transfer: ObjectSpec<TransferBody>;
  readonly settings: ObjectSpec<SettingsBody>;
  readonly cart: ObjectSpec<CartBody>;
  readonly cartConfirm: ObjectSpec<CartConfirmBody>;
  readonly cartExtend: ObjectSpec<CartExtendBody>;
  readonly stockPage: ObjectSpec<StockPageParameters>;
  readonly movementPage: ObjectSpec<MovementPageParameters>;
}

const buyerIdEntry = field(buyerIdField, false, 'The buyer: counts toward purchase limits');
const referenceEntry = field(referenceField, false, "The caller's business reference");
const reservationIdEntry = field(reservationIdField, true, 'The id /v1/reserve returned');
const expectedVersionEntry = field(
  integerField(0, Number.MAX_SAFE_INTEGER),
  false,
  "Compare-and-set: the key's version must be this (0: the key must not exist yet)",
);

export function requestSpecs(limits: ValidationLimits): RequestSpecs {
  const ttl = integerField(limits.ttlSecondsMin, limits.ttlSecondsMax);
  const ttlEntry = field(ttl, false, `Hold lifetime; default ${limits.ttlSecondsDefault}`);
  const quantity = integerField(1, limits.quantityMax);
  return {
    reserve: new ObjectSpec<ReserveBody>({
      product_id: field(stockIdField, true, 'Product id; with warehouse_id, the stock key'),
      warehouse_id: field(stockIdField, true, 'Warehouse id'),
      quantity: field(quantity, true, 'Units to hold'),
      idempotency_key: field(idempotencyKeyField, true, 'Client-chosen key; retries reuse it'),
      ttl_seconds: ttlEntry,
      buyer_id: buyerIdEntry,
      reference: referenceEntry,
    }),
    reservation: new ObjectSpec<ReservationBody>({ reservation_id: reservationIdEntry }),
    confirm: new ObjectSpec<ConfirmBody>({
      reservation_id: reservationIdEntry,
      quantity: field(quantity, false, 'Units sold, 1..held (a partial sale); default all'),
    }),
    extend: new ObjectSpec<ExtendBody>({
      reservation_id: reservationIdEntry,
      ttl_seconds: field(ttl, true, `expires_at = now + ttl_seconds (at most 3 x the maximum)`),
    }),
    adjust: adjustSpec(limits),
    set: setSpec(),
    transfer: transferSpec(limits),
    settings: settingsSpec(),
    ...cartSpecs(limits),
    stockPage: stockPageSpec(),
    movementPage: movementPageSpec(),
  };
}

function stockPageSpec(): ObjectSpec<StockPageParameters> {
  const limit = textIntegerField(1, stockPageItemsMax);
  return new ObjectSpec<StockPageParameters>({
    product_id: field(stockIdField, false, "Only this product's stock keys"),
    after: field(stockCursorField, false, 'The `next` of the page before; left out: the first'),
    limit: field(
      { ...limit, schema: { ...limit.schema, default: stockPageItemsDefault } },
      false,
      `Stock views in this page, at most; default ${stockPageItemsDefault}`,
    ),
  });
}

function movementPageSpec(): ObjectSpec<MovementPageParameters> {
  const limit = textIntegerField(1, movementPageItemsMax);
  return new ObjectSpec<MovementPageParameters>({
    before: field(
      movementCursorField,
      false,
      'The `next` of the page before; left out: the newest movements',
    ),
    limit: field(
      { ...limit, schema: { ...limit.schema, default: movementPageItemsDefault } },
      false,
      `Movements in this page, at most; default ${movementPageItemsDefault}`,
    ),
  });
}

function adjustSpec(limits: ValidationLimits): ObjectSpec<AdjustBody> {
  return new ObjectSpec<AdjustBody>({
    product_id: field(stockIdField, true, 'Product id; with warehouse_id, the stock key'),
    warehouse_id: field(stockIdField, true, 'Warehouse id'),
    delta: field(
      integerField(-limits.adjustDeltaMax, limits.adjustDeltaMax, true),
      true,
      'Change of on_hand (non-zero)',
    ),
    reason: field(reasonField, false, 'Why (kept in the journal and the audit log)'),
    idempotency_key: field(idempotencyKeyField, false, 'Makes the adjustment safe to retry'),
    expected_version: expectedVersionEntry,
    reference: referenceEntry,
    lot: field(
      lotField,
      false,
      'The lot (batch): a positive adjust receives into it (made on first use, with its date); ' +
        'a negative one takes only its unheld units',
    ),
  });
}

export interface LotBody extends Record<string, unknown> {
  lot_id: string;
  expires_on: string;
}

const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar date, `YYYY-MM-DD`, that exists (no February 30th). */
export const dateField: FieldSpec<string> = {
  schema: { type: 'string', format: 'date', pattern: datePattern.source },
  parse(value, field) {
    const match = typeof value === 'string' ? datePattern.exec(value) : null;
    const [year, month, day] = (match ?? []).slice(1).map(Number) as [number, number, number];
    const date = match === null ? undefined : new Date(Date.UTC(year, month - 1, day));
    const exists =
      date !== undefined &&
      year >= 1970 &&
      date.getUTCFullYear() === year &&
      date.getUTCMonth() === month - 1 &&
      date.getUTCDate() === day;
    if (!exists) throw new ValidationError(field, `${field} must be a date, YYYY-MM-DD`);
    return value as string;
  },
};

const lotSpec = new ObjectSpec<LotBody>({
  lot_id: field(stockIdField, true, 'The lot id, unique within the stock key'),
  expires_on: field(
    dateField,
    false,
    'Sellable until the end of this day (UTC); set on first use, never changed; absent: none',
  ),
});

/** An adjust's lot; an error inside names its field as `lot.<name>`. */
export const lotField: FieldSpec<Partial<LotBody>> = {
  schema: lotSpec.schema,
  parse(value, field) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ValidationError(`${field}.lot_id`, `${field} must be an object`);
    }
    try {
      return lotSpec.parse(value as Record<string, unknown>);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      throw new ValidationError(`${field}.${error.field}`, `${field}.${error.message}`);
    }
  },
};

/** A transfer between two warehouses of one product. */
function transferSpec(limits: ValidationLimits): ObjectSpec<TransferBody> {
  return new ObjectSpec<TransferBody>({
    product_id: field(stockIdField, true, 'Product id'),
    from_warehouse_id: field(stockIdField, true, 'The source: unheld units leave it'),
    to_warehouse_id: field(stockIdField, true, 'The destination (created if needed)'),
    quantity: field(integerField(1, limits.adjustDeltaMax), true, 'Units to move'),
    idempotency_key: field(idempotencyKeyField, true, 'Client-chosen key; retries reuse it'),
    in_transit: field(
      booleanField,
      false,
      'true: the units leave now and show as incoming until received; default false (at once)',
    ),
    reason: field(reasonField, false, 'Why (kept in the journal and the audit log)'),
    reference: referenceEntry,
  });
}

/** A set: the count itself, journaled as the difference. */
function setSpec(): ObjectSpec<SetBody> {
  return new ObjectSpec<SetBody>({
    product_id: field(stockIdField, true, 'Product id; with warehouse_id, the stock key'),
    warehouse_id: field(stockIdField, true, 'Warehouse id'),
    on_hand: field(integerField(0, onHandMax), true, 'The count on hand (>= reserved)'),
    expected_version: expectedVersionEntry,
    reason: field(reasonField, false, 'Why (kept in the journal and the audit log)'),
    reference: referenceEntry,
    idempotency_key: field(idempotencyKeyField, false, 'Makes the set safe to retry'),
  });
}

/** A PUT merges: a field left out keeps its value, `null` clears it. */
function settingsSpec(): ObjectSpec<SettingsBody> {
  const window = integerField(limitWindowSecondsMin, limitWindowSecondsMax);
  return new ObjectSpec<SettingsBody>({
    max_per_buyer: field(
      nullable(integerField(1, maxPerBuyerMax)),
      false,
      'Units one buyer may hold (PENDING + CONFIRMED) within the window; null: no limit',
    ),
    limit_window_seconds: field(
      nullable(window),
      false,
      'The window the limit counts holds made within; null: the default, 86400',
    ),
    warehouse_priority: field(
      nullable(idListField(stockIdField, warehousePriorityMax)),
      false,
      'Warehouses a cart line without warehouse_id takes from first, in order; null: none',
    ),
    low_stock_threshold: field(
      nullable(integerField(0, onHandMax)),
      false,
      'inventory.stock.low is published when a key falls below it; null: never',
    ),
  });
}

function cartSpecs(
  limits: ValidationLimits,
): Pick<RequestSpecs, 'cart' | 'cartConfirm' | 'cartExtend'> {
  const ttl = integerField(limits.ttlSecondsMin, limits.ttlSecondsMax);
  const quantity = integerField(1, limits.quantityMax);
  const line = new ObjectSpec<CartLineBody>({
    product_id: field(stockIdField, true, 'Product id'),
    warehouse_id: field(stockIdField, false, 'Warehouse id; left out: the ledger allocates'),
    quantity: field(quantity, true, 'Units to hold'),
  });
  const confirmLine = new ObjectSpec<CartConfirmLineBody>({
    reservation_id: reservationIdEntry,
    quantity: field(quantity, true, 'Units sold of this hold, 1..held'),
  });
  return {
    cart: new ObjectSpec<CartBody>({
      idempotency_key: field(idempotencyKeyField, true, 'Client-chosen key; retries reuse it'),
      lines: field(
        objectListField(line, 1, limits.cartLinesMax),
        true,
        'The lines, all held or none; an error in a line names `lines` (the message says which)',
      ),
      ttl_seconds: field(ttl, false, `Lifetime of every hold; default ${limits.ttlSecondsDefault}`),
      buyer_id: buyerIdEntry,
      reference: referenceEntry,
    }),
    cartConfirm: new ObjectSpec<CartConfirmBody>({
      lines: field(
        objectListField(confirmLine, 0, cartConfirmLinesMax),
        false,
        'Partial quantities by hold, each hold at most once; holds not named: all their units',
      ),
    }),
    cartExtend: new ObjectSpec<CartExtendBody>({
      ttl_seconds: field(ttl, true, 'expires_at of every PENDING hold = now + ttl_seconds'),
    }),
  };
}
