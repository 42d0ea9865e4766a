// A concurrent workload that remembers every request it sent and what (if anything) came back,
// so that after a crash or a fault it can prove the ledger's durability promises: every 200 is
// still there with the same body, retries of unanswered requests resolve to exactly one effect,
// and the stock (on_hand, reserved, version) is exactly what the resolved requests add up to.
import { expect } from 'vitest';
import { timedCall, type TimedReply } from './timed-http.js';
import { sleep } from './ledger-process.js';

type Outcome = 'acked' | 'refused' | 'unknown';

interface Hold {
  readonly key: string;
  readonly stock: StockKey;
  readonly quantity: number;
  outcome: Outcome;
  /** The 200 body, from the first answer or from the retry that resolved it. */
  body?: Record<string, unknown>;
  /** The answer the client saw before any crash, if it saw one. */
  acknowledged?: Record<string, unknown>;
  finish?: { kind: 'confirm' | 'release'; outcome: Outcome };
}

interface Adjust {
  readonly key: string;
  readonly stock: StockKey;
  readonly delta: number;
  outcome: Outcome;
  acknowledged?: Record<string, unknown>;
}

export interface StockKey {
  readonly product_id: string;
  readonly warehouse_id: string;
}

export interface WorkloadCounts {
  sent: number;
  acked: number;
  unknown: number;
  /** Unanswered requests whose retry found them already done: committed, never acknowledged. */
  durableUnacked: number;
  /** Unanswered requests whose retry did them for the first time. */
  lostUnacked: number;
}

const ttlSeconds = 86_400;

export class DurableWorkload {
  readonly holds: Hold[] = [];
  readonly adjusts: Adjust[] = [];
  readonly counts: WorkloadCounts = {
    sent: 0,
    acked: 0,
    unknown: 0,
    durableUnacked: 0,
    lostUnacked: 0,
  };
  /** Every answer received, with its timing (status 0: the request failed on the network). */
  readonly answers: { path: string; status: number; invokeMs: number; responseMs: number }[] = [];
  private serial = 0;
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(
    readonly stocks: readonly StockKey[],
    private readonly tag: string,
    /** Share of reserves that go to the first (hot) key. */
    private readonly hotShare = 0.5,
  ) {}

  /** Every reserve carries this TTL; the ledger must allow it (LEDGER_TTL_SECONDS_MAX). */
  static readonly ttlSeconds = ttlSeconds;

  private nextKey(kind: string): string {
    this.serial += 1;
    return `${this.tag}-${kind}-${this.serial}`.padEnd(16, '0');
  }

  private pickStock(): StockKey {
    const hot = Math.random() < this.hotShare;
    const index = hot ? 0 : 1 + Math.floor(Math.random() * (this.stocks.length - 1));
    return this.stocks[Math.min(index, this.stocks.length - 1)] as StockKey;
  }

  /** Sends one request; a network error or a 503 is an unknown outcome. */
  private async call(
    baseUrl: string,
    path: string,
    body: unknown,
  ): Promise<TimedReply | undefined> {
    this.counts.sent += 1;
    const invokeMs = Date.now();
    try {
      const reply = await timedCall(baseUrl, { method: 'POST', path, body });
      this.answers.push({ path, status: reply.status, invokeMs, responseMs: reply.responseMs });
      if (reply.status === 503) return undefined;
      expect(reply.status, `${path} ${JSON.stringify(body)}: ${reply.text}`).toBeLessThan(500);
      return reply;
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      // fetch failed: connection refused or reset
      this.answers.push({ path, status: 0, invokeMs, responseMs: Date.now() });
      return undefined;
    }
  }

  async adjust(baseUrl: string, stock: StockKey, delta: number): Promise<void> {
    const entry: Adjust = { key: this.nextKey('adj'), stock, delta, outcome: 'unknown' };
    this.adjusts.push(entry);
    const reply = await this.call(baseUrl, '/v1/stock/adjust', this.adjustBody(entry));
    if (reply === undefined) return this.unknown();
    expect(reply.status, reply.text).toBe(200);
    entry.outcome = 'acked';
    entry.acknowledged = reply.body;
    this.counts.acked += 1;
  }

  private adjustBody(entry: Adjust) {
    return { ...entry.stock, delta: entry.delta, idempotency_key: entry.key, reason: 'restock' };
  }

  private reserveBody(hold: Hold) {
    return {
      ...hold.stock,
      quantity: hold.quantity,
      idempotency_key: hold.key,
      ttl_seconds: ttlSeconds,
    };
  }

  private unknown(): void {
    this.counts.unknown += 1;
  }

  private async reserve(baseUrl: string): Promise<void> {
    const stock = this.pickStock();
    const hold: Hold = {
      key: this.nextKey('res'),
      stock,
      quantity: 1 + Math.floor(Math.random() * 2),
      outcome: 'unknown',
    };
    this.holds.push(hold);
    const reply = await this.call(baseUrl, '/v1/reserve', this.reserveBody(hold));
    if (reply === undefined) return this.unknown();
    if (reply.status === 409) {
      expect(reply.body).toMatchObject({ error: { code: 'insufficient_stock' } });
      hold.outcome = 'refused';
      return;
    }
    expect(reply.status, reply.text).toBe(200);
    hold.outcome = 'acked';
    hold.body = reply.body;
    hold.acknowledged = reply.body;
    this.counts.acked += 1;
  }

  private async finish(baseUrl: string, kind: 'confirm' | 'release'): Promise<void> {
    // Each hold is finished at most once, so every finish's effect is known.
    const candidates = this.holds.filter((hold) => hold.outcome === 'acked' && !hold.finish);
    const hold = candidates[Math.floor(Math.random() * candidates.length)];
    if (hold === undefined) return;
    hold.finish = { kind, outcome: 'unknown' };
    const reply = await this.call(baseUrl, `/v1/${kind}`, {
      reservation_id: hold.body?.reservation_id,
    });
    if (reply === undefined) return this.unknown();
    expect(reply.status, reply.text).toBe(200);
    hold.finish.outcome = 'acked';
    this.counts.acked += 1;
  }

  /** Starts `concurrency` clients that keep sending until `stop`. */
  start(baseUrl: string, concurrency: number): void {
    this.running = true;
    this.loops = Array.from({ length: concurrency }, async () => {
      while (this.running) {
        const unknownBefore = this.counts.unknown;
        const dice = Math.random();
        if (dice < 0.6) await this.reserve(baseUrl);
        else if (dice < 0.72) await this.finish(baseUrl, 'confirm');
        else if (dice < 0.82) await this.finish(baseUrl, 'release');
        else await this.adjust(baseUrl, this.pickStock(), 1 + Math.floor(Math.random() * 6));
        // An outage answers at once; pace the retries instead of spinning.
        if (this.counts.unknown > unknownBefore) await sleep(20);
      }
    });
  }

  /** Stops sending; resolves once every client has its last answer (or error). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /**
   * Right after a restart, before any retry: every acknowledged change is there, as answered.
   * Returns how many were checked.
   */
  async checkAcknowledged(baseUrl: string): Promise<number> {
    let checked = 0;
    for (const hold of this.holds) {
      if (hold.acknowledged === undefined) continue;
      const id = hold.acknowledged.reservation_id as string;
      const read = await timedCall(baseUrl, { method: 'GET', path: `/v1/reservations/${id}` });
      expect(read.status, read.text).toBe(200);
      const allowed = ['PENDING'];
      if (hold.finish !== undefined) {
        const done = hold.finish.kind === 'confirm' ? 'CONFIRMED' : 'RELEASED';
        if (hold.finish.outcome === 'acked') allowed.splice(0, 1, done);
        else allowed.push(done);
      }
      expect(allowed, `status of acknowledged hold ${id}`).toContain(read.body.status);
      // A confirmed hold's body names its sold units too (v1.1: all of them here).
      const sold =
        read.body.status === 'CONFIRMED' ? { confirmed_quantity: hold.acknowledged.quantity } : {};
      expect(read.body).toEqual({ ...hold.acknowledged, status: read.body.status, ...sold });
      checked += 1;
    }
    for (const entry of this.adjusts) {
      if (entry.acknowledged === undefined) continue;
      const again = await this.call(baseUrl, '/v1/stock/adjust', this.adjustBody(entry));
      expect(again?.status).toBe(200);
      expect(again?.replayed, 'an acknowledged adjust replays').toBe(true);
      expect(again?.body).toEqual(entry.acknowledged);
      checked += 1;
    }
    return checked;
  }

  /** Retries `send` until it gets an answer that is not 503 (the ledger may still recover). */
  private async settle(baseUrl: string, path: string, body: unknown): Promise<TimedReply> {
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const reply = await this.call(baseUrl, path, body);
      if (reply !== undefined) return reply;
      await sleep(50);
    }
    throw new Error(`${path} never settled`);
  }

  /** Retries every unanswered request with its idempotency key; each resolves to one outcome. */
  async resolveUnknown(baseUrl: string): Promise<void> {
    for (const entry of this.adjusts.filter((adjust) => adjust.outcome === 'unknown')) {
      const reply = await this.settle(baseUrl, '/v1/stock/adjust', this.adjustBody(entry));
      expect(reply.status, reply.text).toBe(200);
      this.countRetry(reply.replayed);
      entry.outcome = 'acked';
    }
    for (const hold of this.holds.filter((candidate) => candidate.outcome === 'unknown')) {
      const reply = await this.settle(baseUrl, '/v1/reserve', this.reserveBody(hold));
      if (reply.status === 409) {
        hold.outcome = 'refused';
        this.counts.lostUnacked += 1;
        continue;
      }
      expect(reply.status, reply.text).toBe(200);
      this.countRetry(reply.replayed);
      hold.outcome = 'acked';
      hold.body = reply.body;
    }
    for (const hold of this.holds) {
      if (hold.finish?.outcome !== 'unknown') continue;
      const path = `/v1/${hold.finish.kind}`;
      const reply = await this.settle(baseUrl, path, { reservation_id: hold.body?.reservation_id });
      expect(reply.status, `retried ${hold.finish.kind}: ${reply.text}`).toBe(200);
      hold.finish.outcome = 'acked';
    }
  }

  private countRetry(replayed: boolean): void {
    if (replayed) this.counts.durableUnacked += 1;
    else this.counts.lostUnacked += 1;
  }

  /**
   * Every hold made replays as itself: exactly one hold per idempotency key. `sample` bounds
   * the retries (all holds whose first answer was lost, then acknowledged ones up to the bound).
   */
  async checkOneHoldPerKey(baseUrl: string, sample = Number.POSITIVE_INFINITY): Promise<void> {
    const made = this.holds.filter((hold) => hold.outcome === 'acked');
    const lost = made.filter((hold) => hold.acknowledged === undefined);
    const answered = made.filter((hold) => hold.acknowledged !== undefined).slice(0, sample);
    for (const hold of [...lost, ...answered]) {
      const again = await this.settle(baseUrl, '/v1/reserve', this.reserveBody(hold));
      expect(again.status, again.text).toBe(200);
      expect(again.replayed).toBe(true);
      expect(again.body).toEqual(hold.body);
    }
  }

  /** Reservation ids of every hold that exists (after resolveUnknown: all of them). */
  holdIds(): string[] {
    return this.holds
      .filter((hold) => hold.outcome === 'acked')
      .map((hold) => hold.body?.reservation_id as string);
  }

  /** Reservation ids the client was told about with a 200 before any fault or crash. */
  acknowledgedIds(): string[] {
    return this.holds.flatMap((hold) =>
      hold.acknowledged === undefined ? [] : [hold.acknowledged.reservation_id as string],
    );
  }

  /** What each stock key must read once every request is resolved. */
  expectedStock(stock: StockKey): Record<string, unknown> {
    const same = (other: StockKey) =>
      other.product_id === stock.product_id && other.warehouse_id === stock.warehouse_id;
    let onHand = 0;
    let reserved = 0;
    let version = 0;
    for (const entry of this.adjusts.filter((adjust) => same(adjust.stock))) {
      if (entry.outcome !== 'acked') throw new Error('expectedStock before resolveUnknown');
      onHand += entry.delta;
      version += 1;
    }
    for (const hold of this.holds.filter((candidate) => same(candidate.stock))) {
      if (hold.outcome === 'unknown') throw new Error('expectedStock before resolveUnknown');
      if (hold.outcome === 'refused') continue;
      version += 1;
      const finished = hold.finish?.outcome === 'acked' ? hold.finish.kind : undefined;
      if (finished !== undefined) version += 1;
      if (finished === 'confirm') onHand -= hold.quantity;
      if (finished === undefined) reserved += hold.quantity;
    }
    const available = onHand - reserved;
    return { ...stock, on_hand: onHand, reserved, available, incoming: 0, version };
  }

  /** Reads every stock key: exactly the expected books, so nothing lost, doubled or oversold. */
  async checkBooks(baseUrl: string): Promise<void> {
    for (const stock of this.stocks) {
      const read = await timedCall(baseUrl, {
        method: 'GET',
        path: `/v1/stock/${stock.product_id}/${stock.warehouse_id}`,
      });
      expect(read.status, read.text).toBe(200);
      const body = read.body as { on_hand: number; reserved: number };
      expect(body.reserved).toBeLessThanOrEqual(body.on_hand);
      expect(read.body, `books of ${stock.product_id}`).toEqual(this.expectedStock(stock));
    }
  }
}
