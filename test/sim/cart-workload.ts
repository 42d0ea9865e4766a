// What the cart simulator's clients send: stock first (adjusts over several warehouses, some keys
// never stocked, product settings with purchase limits and warehouse priorities), then carts of
// 1..6 lines (some allocated, some naming a key twice, some short), replays of earlier carts'
// keys with the same body or another, and plain reserves and adjusts competing for the stock;
// and transfers between a product's warehouses (direct or in transit, some retried under the
// same key, some short or to a key never stocked), received or cancelled later.
import type { Command, TransferCommand } from '../../src/actors/index.js';
import { partitionOf, type CartRequest } from '../../src/router/index.js';
import type { Random } from './random.js';
import { reservationIdFor } from './workload.js';

/** The lots' dates: the simulation starts on 2027-01-15 at 08:00 UTC. */
const lotDates = ['2027-01-15', '2027-01-17', undefined];

export interface CartWorkloadShape {
  readonly partitions: number;
  readonly products: number;
  readonly warehouses: number;
  readonly buyers: number;
}

/** A command for one partition, as the router would send it. */
export interface PlainRequest {
  readonly partition: number;
  readonly command: Command;
}

export class CartWorkload {
  private traces = 0;
  private carts = 0;
  /** Earlier carts a client may send again under the same key. */
  private readonly sent: CartRequest[] = [];
  private transfers = 0;
  /** Earlier transfers a client may send again under the same key. */
  private readonly sentTransfers: { partition: number; command: TransferCommand }[] = [];

  constructor(
    private readonly random: Random,
    private readonly shape: CartWorkloadShape,
  ) {}

  traceId(prefix: string): string {
    this.traces += 1;
    return `${prefix}${this.traces}`;
  }

  partitionOfProduct(productId: string): number {
    return partitionOf(productId, this.shape.partitions);
  }

  product(): string {
    // Product 0 is hot: carts and reserves meet on it.
    return this.random.chance(0.25) ? 'p0' : `p${this.random.int(0, this.shape.products - 1)}`;
  }

  warehouse(): string {
    return `w${this.random.int(0, this.shape.warehouses - 1)}`;
  }

  /** Every stock key's first adjust; about one key in eight is never stocked. */
  stocking(): PlainRequest[] {
    const requests: PlainRequest[] = [];
    for (let product = 0; product < this.shape.products; product += 1) {
      for (let warehouse = 0; warehouse < this.shape.warehouses; warehouse += 1) {
        if (this.random.chance(0.125)) continue;
        const delta = this.random.int(1, 16);
        requests.push(this.adjustOf(`p${product}`, `w${warehouse}`, delta));
      }
    }
    return requests;
  }

  adjust(): PlainRequest {
    const delta = this.random.chance(0.8) ? this.random.int(1, 10) : -this.random.int(1, 5);
    // Some adjusts name a lot: L1 ends with the simulation's first day, L2 two days later, L3
    // never; now and then with another date (refused, 422).
    const lot = this.random.chance(0.4) ? this.lot() : undefined;
    return this.adjustOf(this.product(), this.warehouse(), delta, lot);
  }

  private lot(): { lotId: string; expiresOn?: string } {
    const index = this.random.int(0, lotDates.length - 1);
    const expiresOn = this.random.chance(0.05) ? '2027-02-01' : lotDates[index];
    const lotId = `L${index + 1}`;
    return expiresOn === undefined ? { lotId } : { lotId, expiresOn };
  }

  private adjustOf(
    productId: string,
    warehouseId: string,
    delta: number,
    lot?: { lotId: string; expiresOn?: string },
  ): PlainRequest {
    const command: Command = {
      kind: 'adjust',
      productId,
      warehouseId,
      delta,
      reason: 'sim',
      idempotencyKey: '',
      actorId: 'sim',
      traceId: this.traceId('a'),
      ...(lot === undefined ? {} : { lot }),
    };
    return { partition: this.partitionOfProduct(productId), command };
  }

  /** A purchase limit, a warehouse priority, a low-stock threshold: each set, cleared or kept. */
  settings(productId = this.product()): PlainRequest {
    const changes: Record<string, unknown> = {};
    const limit = this.random.int(0, 2);
    if (limit > 0) changes.maxPerBuyer = limit === 1 ? this.random.int(2, 8) : null;
    const priority = this.random.int(0, 2);
    if (priority > 0) {
      const all = Array.from({ length: this.shape.warehouses }, (_, index) => `w${index}`);
      const listed = all.filter(() => this.random.chance(0.6)).reverse();
      changes.warehousePriority = priority === 1 && listed.length > 0 ? listed : null;
    }
    const low = this.random.int(0, 3);
    if (low > 0) changes.lowStockThreshold = low === 1 ? null : this.random.int(0, 30);
    const command: Command = {
      kind: 'put-settings',
      productId,
      changes,
      actorId: 'sim',
      traceId: this.traceId('s'),
    };
    return { partition: this.partitionOfProduct(productId), command };
  }

  reserve(): PlainRequest {
    const productId = this.product();
    const partition = this.partitionOfProduct(productId);
    const buyerId = this.buyer();
    const command: Command = {
      kind: 'reserve',
      productId,
      warehouseId: this.warehouse(),
      quantity: this.random.int(1, 3),
      idempotencyKey: `k${this.traces}`.padEnd(8, '.'),
      ttlSeconds: this.random.pick([60, 120, 600]),
      reservationId: reservationIdFor(partition, this.random),
      requesterId: 'sim',
      traceId: this.traceId('t'),
      ...(buyerId === '' ? {} : { buyerId }),
    };
    return { partition, command };
  }

  onHold(kind: 'confirm' | 'release', reservationId: string): PlainRequest {
    const partition = Number.parseInt(reservationId.slice(0, 4), 16);
    const command: Command = { kind, reservationId, traceId: this.traceId('t') };
    return { partition, command };
  }

  /** A new transfer (now and then an earlier one again, with a fresh id: a retry). */
  transfer(): PlainRequest {
    const earlier = this.sentTransfers.length > 0 && this.random.chance(0.15);
    if (earlier) {
      const { partition, command } = this.random.pick(this.sentTransfers);
      const transferId = reservationIdFor(partition, this.random);
      return { partition, command: { ...command, transferId, traceId: this.traceId('x') } };
    }
    this.transfers += 1;
    const productId = this.product();
    const partition = this.partitionOfProduct(productId);
    const fromWarehouseId = this.warehouse();
    let toWarehouseId = this.warehouse();
    if (toWarehouseId === fromWarehouseId) toWarehouseId = `w${this.shape.warehouses}`;
    const command: TransferCommand = {
      kind: 'transfer',
      transferId: reservationIdFor(partition, this.random),
      productId,
      fromWarehouseId,
      toWarehouseId,
      quantity: this.random.int(1, 6),
      inTransit: this.random.chance(0.6),
      idempotencyKey: `transfer-${this.transfers}`.padEnd(16, '.'),
      reason: 'sim',
      actorId: 'sim',
      traceId: this.traceId('x'),
    };
    const request = { partition, command };
    this.sentTransfers.push(request);
    if (this.sentTransfers.length > 32) this.sentTransfers.shift();
    return request;
  }

  onTransfer(kind: 'transfer-receive' | 'transfer-cancel', transferId: string): PlainRequest {
    const partition = Number.parseInt(transferId.slice(0, 4), 16);
    return { partition, command: { kind, transferId, traceId: this.traceId('x') } };
  }

  private buyer(): string {
    return this.random.chance(0.5) ? '' : `b${this.random.int(0, this.shape.buyers - 1)}`;
  }

  /** A new cart: 1..6 lines, some without a warehouse, some naming an earlier line's key. */
  cart(): CartRequest {
    this.carts += 1;
    const count = this.random.int(1, 6);
    const lines: CartRequest['lines'][number][] = [];
    for (let index = 0; index < count; index += 1) {
      const quantity = this.random.pick([1, 1, 2, 2, 3, 5]);
      const earlier = lines.length > 0 && this.random.chance(0.15);
      if (earlier) {
        const { productId, warehouseId } = this.random.pick(lines);
        lines.push({ productId, warehouseId, quantity });
        continue;
      }
      const productId = this.random.chance(0.03) ? 'ghost' : this.product();
      const warehouseId = this.random.chance(0.3) ? '' : this.warehouse();
      lines.push({ productId, warehouseId, quantity });
    }
    const request: CartRequest = {
      idempotencyKey: `cart-${this.carts}`,
      lines,
      ttlSeconds: this.random.pick([60, 120, 600]),
      buyerId: this.buyer(),
      reference: this.random.chance(0.3) ? `ref-${this.carts}` : '',
      requesterId: 'sim',
      traceId: this.traceId('c'),
    };
    this.sent.push(request);
    if (this.sent.length > 48) this.sent.shift();
    return request;
  }

  /** An earlier cart's key again: mostly the same body (a retry), now and then another one. */
  replay(): CartRequest {
    const earlier = this.sent.length === 0 ? this.cart() : this.random.pick(this.sent);
    const traceId = this.traceId('c');
    if (this.random.chance(0.8)) return { ...earlier, traceId };
    const lines = earlier.lines.map((line, index) =>
      index === 0 ? { ...line, quantity: line.quantity + 1 } : line,
    );
    return { ...earlier, lines, traceId };
  }
}
