// What the simulated clients send: reserves on one hot key or many keys, confirms, releases,
// reads, adjusts and sets with and without idempotency keys (some compare-and-set), retries of
// answers they did not get (same key and body) and now and then a retry with another body.
// Every request gets a trace id of its own, so the journal says which request made each record.
import type { Command } from '../../src/actors/index.js';
import type { ModelRequest } from '../model/reference-ledger.js';
import type { Random } from './random.js';

export interface SimRequest {
  readonly traceId: string;
  readonly partition: number;
  readonly command: Command;
  readonly model: ModelRequest;
}

export interface WorkloadShape {
  readonly products: number;
  readonly warehouses: number;
  /** Probability that a keyed request names the hot key (product 0, warehouse 0). */
  readonly hotShare: number;
}

/** Reservation ids in the ledger's layout (partition in the first 16 bits), from the seed. */
export function reservationIdFor(partition: number, random: Random): string {
  const hex = random.hex(28);
  const prefix = partition.toString(16).padStart(4, '0');
  return `${prefix}${hex.slice(0, 4)}-${hex.slice(4, 8)}-8${hex.slice(8, 11)}-8${hex.slice(11, 14)}-${hex.slice(14, 26)}`;
}

/** What a v1.1 adjust may add: a set's count, compare-and-set, a reference. */
interface AdjustTerms {
  readonly setOnHand?: number;
  readonly expectedVersion?: number;
  readonly reference?: string;
}

export class Workload {
  private traces = 0;
  private keys = 0;
  /** Earlier requests a client may send again (same idempotency key). */
  private readonly retriable: SimRequest[] = [];

  constructor(
    private readonly random: Random,
    private readonly shape: WorkloadShape,
    private readonly partitionOf: (productId: string, warehouseId: string) => number,
  ) {}

  private traceId(): string {
    this.traces += 1;
    return `t${this.traces}`;
  }

  private idempotencyKey(): string {
    this.keys += 1;
    return `key-${this.keys}`.padEnd(16, '.');
  }

  private stockKey(): [string, string] {
    if (this.random.chance(this.shape.hotShare)) return ['p0', 'w0'];
    return [
      `p${this.random.int(0, this.shape.products - 1)}`,
      `w${this.random.int(0, this.shape.warehouses - 1)}`,
    ];
  }

  /** A new request; `holds` are reservation ids (with partitions) a client could name. */
  next(holds: readonly [number, string][]): SimRequest {
    const kind = this.random.weighted({
      reserve: 30,
      confirm: 10,
      release: 6,
      readHold: 5,
      adjust: 10,
      readStock: 6,
      retry: 8,
    });
    switch (kind) {
      case 'reserve':
        return this.remember(this.reserve());
      case 'adjust':
        return this.remember(this.adjust());
      case 'readStock': {
        const [productId, warehouseId] = this.random.chance(0.05)
          ? ['ghost', 'w0']
          : this.stockKey();
        return this.readStock(productId, warehouseId);
      }
      case 'retry':
        if (this.retriable.length > 0) return this.retry(this.random.pick(this.retriable));
        return this.remember(this.reserve());
      default: {
        if (holds.length === 0 || this.random.chance(0.03)) {
          return this.onHold(kind, 0, reservationIdFor(0, this.random));
        }
        const [partition, id] = this.random.pick(holds);
        return this.onHold(kind, partition, id);
      }
    }
  }

  private remember(request: SimRequest): SimRequest {
    if ('idempotencyKey' in request.model && request.model.idempotencyKey !== '') {
      this.retriable.push(request);
      if (this.retriable.length > 64) this.retriable.shift();
    }
    return request;
  }

  private reserve(): SimRequest {
    const [productId, warehouseId] = this.stockKey();
    const partition = this.partitionOf(productId, warehouseId);
    const quantity = this.random.int(1, 4);
    const ttlSeconds = this.random.pick([60, 61, 120, 600]);
    return this.reserveWith(
      partition,
      productId,
      warehouseId,
      quantity,
      ttlSeconds,
      this.idempotencyKey(),
    );
  }

  private reserveWith(
    partition: number,
    productId: string,
    warehouseId: string,
    quantity: number,
    ttlSeconds: number,
    idempotencyKey: string,
  ): SimRequest {
    const traceId = this.traceId();
    const reservationId = reservationIdFor(partition, this.random);
    const model = {
      kind: 'reserve',
      productId,
      warehouseId,
      quantity,
      idempotencyKey,
      ttlSeconds,
      reservationId,
    } as const;
    return { traceId, partition, model, command: { ...model, requesterId: 'sim', traceId } };
  }

  /** An adjust, or now and then a set (v1.1), either maybe with a reference or a version. */
  private adjust(): SimRequest {
    const [productId, warehouseId] = this.stockKey();
    const delta = this.random.chance(0.8) ? this.random.int(1, 20) : -this.random.int(1, 10);
    const key = this.random.chance(0.5) ? this.idempotencyKey() : '';
    const terms: AdjustTerms = {
      ...(this.random.chance(0.25) ? { setOnHand: this.random.int(0, 60) } : {}),
      // Versions are not known here: a small one matches a quiet key now and then.
      ...(this.random.chance(0.2) ? { expectedVersion: this.random.int(0, 12) } : {}),
      ...(this.random.chance(0.2) ? { reference: 'sim-ref' } : {}),
    };
    return this.adjustWith(productId, warehouseId, delta, key, terms);
  }

  private adjustWith(
    productId: string,
    warehouseId: string,
    delta: number,
    idempotencyKey: string,
    terms: AdjustTerms,
  ) {
    const traceId = this.traceId();
    const partition = this.partitionOf(productId, warehouseId);
    const model = {
      kind: 'adjust',
      productId,
      warehouseId,
      delta,
      ...terms,
      reason: 'sim',
      idempotencyKey,
    } as const;
    return { traceId, partition, model, command: { ...model, actorId: 'sim', traceId } };
  }

  /** The same request again under the same idempotency key: mostly the same body. */
  private retry(earlier: SimRequest): SimRequest {
    const same = this.random.chance(0.9);
    const model = earlier.model;
    if (model.kind === 'reserve') {
      const quantity = same ? model.quantity : model.quantity + 1;
      return this.reserveWith(
        earlier.partition,
        model.productId,
        model.warehouseId,
        quantity,
        model.ttlSeconds,
        model.idempotencyKey,
      );
    }
    if (model.kind === 'adjust') {
      const { setOnHand, expectedVersion, reference } = model;
      const terms: AdjustTerms = {
        ...(setOnHand === undefined ? {} : { setOnHand: same ? setOnHand : setOnHand + 1 }),
        ...(expectedVersion === undefined ? {} : { expectedVersion }),
        ...(reference === undefined ? {} : { reference }),
      };
      const delta = same || setOnHand !== undefined ? model.delta : model.delta + 1;
      return this.adjustWith(
        model.productId,
        model.warehouseId,
        delta,
        model.idempotencyKey,
        terms,
      );
    }
    throw new Error(`cannot retry a ${model.kind}`);
  }

  readStock(productId: string, warehouseId: string): SimRequest {
    const traceId = this.traceId();
    const partition = this.partitionOf(productId, warehouseId);
    const model = { kind: 'read-stock', productId, warehouseId } as const;
    return { traceId, partition, model, command: model };
  }

  readHold(partition: number, reservationId: string): SimRequest {
    return this.onHold('readHold', partition, reservationId);
  }

  private onHold(
    kind: 'confirm' | 'release' | 'readHold',
    partition: number,
    reservationId: string,
  ) {
    const traceId = this.traceId();
    const modelKind = kind === 'readHold' ? 'read-reservation' : kind;
    const model = { kind: modelKind, reservationId } as const;
    return { traceId, partition, model, command: { ...model, traceId } };
  }
}
