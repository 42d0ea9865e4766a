// A real ledger with one watched stock key and one pending hold on it, for hostile-input tests:
// after any amount of garbage, the key's stock (version included) and the hold must be exactly
// as they were, and the server must still be alive and serving.
import { expect } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, newKey, post } from '../helpers/http.js';
import { startLedger, type LedgerProcess } from '../helpers/ledger-process.js';

/** Every code API.md's error table (plus 405 for a known path) may answer with. */
export const contractCodes = new Set([
  'malformed_json',
  'unauthenticated',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'insufficient_stock',
  'reservation_expired',
  'reservation_released',
  'reservation_confirmed',
  'payload_too_large',
  'unsupported_media_type',
  'validation_failed',
  'idempotency_key_reused',
  'rate_limited',
]);

export class WatchedLedger {
  private constructor(
    readonly database: TestDatabase,
    readonly ledger: LedgerProcess,
    readonly stock: { readonly product_id: string; readonly warehouse_id: string },
    readonly holdId: string,
    private readonly before: { stock: unknown; hold: unknown },
  ) {}

  static async start(tag: string): Promise<WatchedLedger> {
    const database = await createDatabase();
    const ledger = await startLedger({ env: { DATABASE_URL: database.url } });
    const stock = { product_id: `watched-${tag}`, warehouse_id: 'wh-1' };
    const adjusted = await post(ledger.baseUrl, '/v1/stock/adjust', { ...stock, delta: 10 });
    expect(adjusted.status, adjusted.text).toBe(200);
    const held = await post(ledger.baseUrl, '/v1/reserve', {
      ...stock,
      quantity: 2,
      idempotency_key: newKey('watched'),
    });
    expect(held.status, held.text).toBe(200);
    const holdId = held.body.reservation_id as string;
    const watched = new WatchedLedger(database, ledger, stock, holdId, { stock: {}, hold: {} });
    watched.before.stock = await watched.readStock();
    watched.before.hold = await watched.readHold();
    return watched;
  }

  get baseUrl(): string {
    return this.ledger.baseUrl;
  }

  get port(): number {
    return this.ledger.port;
  }

  get stockPath(): string {
    return `/v1/stock/${this.stock.product_id}/${this.stock.warehouse_id}`;
  }

  private async readStock(): Promise<unknown> {
    return (await get(this.baseUrl, this.stockPath)).body;
  }

  private async readHold(): Promise<unknown> {
    return (await get(this.baseUrl, `/v1/reservations/${this.holdId}`)).body;
  }

  /** What first changed the watched state: later failures (and fast-check's shrinking) name it. */
  private firstChange: string | undefined;

  /** The process lives, and the watched key and hold are exactly as they were. */
  async expectUnchanged(context = ''): Promise<void> {
    if (this.firstChange !== undefined) throw new Error(this.firstChange);
    expect(this.ledger.child.exitCode, `the ledger exited ${context}`).toBeNull();
    const now = JSON.stringify({ stock: await this.readStock(), hold: await this.readHold() });
    const then = JSON.stringify(this.before);
    if (now !== then) {
      this.firstChange = `the watched state changed ${context}:\n  was ${then}\n  now ${now}`;
      throw new Error(this.firstChange);
    }
  }

  /**
   * Runs `send` (which checks the answer), then checks the watched state whatever the answer
   * was, so that the request that changed it is the one named.
   */
  async around(context: string, send: () => Promise<void>): Promise<void> {
    let failure: unknown;
    try {
      await send();
    } catch (error) {
      failure = error;
    }
    await this.expectUnchanged(context);
    if (failure !== undefined) throw failure;
  }

  /** Still serving: ready, and a normal reserve and its release work. */
  async expectServing(): Promise<void> {
    expect((await get(this.baseUrl, '/health/ready')).status).toBe(200);
    const reserved = await post(this.baseUrl, '/v1/reserve', {
      ...this.stock,
      quantity: 1,
      idempotency_key: newKey('after-hostile'),
    });
    expect(reserved.status, reserved.text).toBe(200);
    const released = await post(this.baseUrl, '/v1/release', {
      reservation_id: reserved.body.reservation_id,
    });
    expect(released.status, released.text).toBe(200);
  }

  async stop(): Promise<void> {
    await this.ledger.stop();
    await this.database.drop();
  }
}

/** The error body of API.md: `{"error": {"code", "message", "details"?}}`, with a known code. */
export function expectContractError(status: number, text: string, context: string): void {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${context}: ${status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
  expect(typeof error?.message, `${context}: error.message`).toBe('string');
  expect(contractCodes.has(String(error?.code)), `${context}: code ${String(error?.code)}`).toBe(
    true,
  );
}
