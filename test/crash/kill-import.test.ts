// Proves an ERP import survives kill -9 with nothing applied twice and nothing lost: a real
// ledger is SIGKILLed in the middle of an NDJSON import of adjust and set lines (each with an
// idempotency key) over hundreds of keys; after the restart the same file is imported again, and
// every key ends exactly where the file says when applied once, line by line, in file order.
import { describe, expect, it } from 'vitest';
import { useRestartableLedger } from '../helpers/ledger-fixture.js';
import { get, request } from '../helpers/http.js';
import { sleep } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

const keys = Array.from({ length: 300 }, (_, index) => ({
  product_id: `erp-sku-${index % 100}`,
  warehouse_id: `wh-${Math.floor(index / 100)}`,
}));
const linesPerKey = 20;

interface Line {
  readonly op: 'adjust' | 'set';
  readonly product_id: string;
  readonly warehouse_id: string;
  readonly delta?: number;
  readonly on_hand?: number;
  readonly idempotency_key: string;
}

/** A file of adjusts and sets, key after key interleaved, every line keyed; all of them apply. */
function erpFile(run: string): Line[] {
  const lines: Line[] = [];
  for (let round = 0; round < linesPerKey; round += 1) {
    keys.forEach((key, index) => {
      const idempotency_key = `${run}-${index}-${round}`.padEnd(16, '0');
      // Every fifth line a stock take (a set), the others receipts (positive adjusts).
      if ((index + round) % 5 === 0) {
        lines.push({ op: 'set', ...key, on_hand: (index * 7 + round * 3) % 50, idempotency_key });
      } else {
        lines.push({ op: 'adjust', ...key, delta: 1 + ((index + round) % 9), idempotency_key });
      }
    });
  }
  return lines;
}

/** Each key's on_hand after every line applied once, in file order. */
function expectedOnHand(lines: readonly Line[]): Map<string, number> {
  const onHand = new Map<string, number>();
  for (const line of lines) {
    const key = `${line.product_id}/${line.warehouse_id}`;
    const now = onHand.get(key) ?? 0;
    onHand.set(key, line.op === 'set' ? (line.on_hand ?? 0) : now + (line.delta ?? 0));
  }
  return onHand;
}

const importFile = (baseUrl: string, body: string) =>
  request(baseUrl, 'POST', '/v1/stock/import', body, { 'content-type': 'application/x-ndjson' });

describe.runIf(await havePostgres())('kill -9 during a stock import', () => {
  const { start } = useRestartableLedger();

  it('applies every line exactly once across the crash and a second import of the file', async () => {
    const lines = erpFile(`erp-${process.pid}-${Date.now()}`);
    const body = `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`;
    let running = await start();
    const first = importFile(running.baseUrl, body).catch(() => undefined);
    // Kill once the import has visibly started (the first key moved), so it is cut mid-way.
    const probe = keys[0] as (typeof keys)[number];
    for (let tries = 0; tries < 400; tries += 1) {
      const read = await get(
        running.baseUrl,
        `/v1/stock/${probe.product_id}/${probe.warehouse_id}`,
      );
      if (read.status === 200) break;
      await sleep(5);
    }
    await running.kill();
    expect((await first)?.status).not.toBe(200);
    running = await start();

    const again = await importFile(running.baseUrl, body);
    expect(again.status, again.text.slice(0, 300)).toBe(200);
    const results = again.body.results as { status: number; replayed?: boolean }[];
    expect(again.body).toMatchObject({ applied: lines.length, failed: 0 });
    // The kill cut the first import: some lines had applied (they replay), some had not.
    const replayed = results.filter((result) => result.replayed === true).length;
    expect(replayed).toBeGreaterThan(0);
    expect(replayed).toBeLessThan(lines.length);

    const wanted = expectedOnHand(lines);
    for (const key of keys) {
      const read = await get(running.baseUrl, `/v1/stock/${key.product_id}/${key.warehouse_id}`);
      expect(read.body.on_hand, `${key.product_id}/${key.warehouse_id}`).toBe(
        wanted.get(`${key.product_id}/${key.warehouse_id}`),
      );
    }
    // A third import changes nothing: every line replays.
    const third = await importFile(running.baseUrl, body);
    const all = third.body.results as { replayed?: boolean }[];
    expect(all.every((result) => result.replayed === true)).toBe(true);
    expect(await running.stop()).toBe(0);
  });
});
