// The erp-sync bench's feed is what its "failed 0" and end-state verdicts are measured against,
// so its files are checked here: the same seed gives the same lines, they spread over the
// catalogue, never ask for stock a key lacks, and an answer is only accepted line for line.
import { describe, expect, it } from 'vitest';
import {
  checkImportAnswer,
  erpImportLines,
  erpKeyAt,
  erpKeyCount,
  erpProducts,
  ErpFeed,
  windowCoverage,
  type ErpImport,
} from '../../../bench/lib/erp-feed.js';
import { pairOrder } from '../../../bench/lib/erp-report.js';

interface SentLine {
  op: string;
  product_id: string;
  warehouse_id: string;
  delta?: number;
  on_hand?: number;
  idempotency_key: string;
}

const parse = (imported: ErpImport): SentLine[] =>
  imported.body
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as SentLine);

function feedAfterInitial(seed = 7): ErpFeed {
  const feed = new ErpFeed(seed, 'testtag1');
  feed.initial();
  return feed;
}

/** The answer a faithful ledger gives: every line 200 with the stock the feed expects. */
function faithfulAnswer(imported: ErpImport): {
  applied: number;
  failed: number;
  results: Record<string, unknown>[];
} {
  return {
    applied: imported.lines.length,
    failed: 0,
    results: imported.lines.map((line, index) => {
      const key = erpKeyAt(line.keyIndex);
      const stock = {
        product_id: key.productId,
        warehouse_id: key.warehouseId,
        on_hand: line.onHandAfter,
        reserved: 0,
        version: line.versionAfter,
      };
      return { line: index + 1, status: 200, stock };
    }),
  };
}

describe('the ERP feed', () => {
  it('makes the same files from the same seed and tag, and other files from another seed', () => {
    const first = feedAfterInitial();
    const second = feedAfterInitial();
    expect(second.next().body).toBe(first.next().body);
    expect(second.next().body).toBe(first.next().body);
    expect(feedAfterInitial(8).next().body).not.toBe(feedAfterInitial(7).next().body);
  });

  it('stocks every key once in the initial import, with a set line', () => {
    const initial = new ErpFeed(1, 'testtag1').initial();
    const keys = new Set(parse(initial).map((line) => `${line.product_id}/${line.warehouse_id}`));
    expect(keys.size).toBe(erpKeyCount);
    expect(parse(initial).every((line) => line.op === 'set')).toBe(true);
  });

  it('spreads 10,000 mixed lines over most keys of many products, none on the hot SKU', () => {
    const imported = feedAfterInitial().next();
    const lines = parse(imported);
    expect(lines).toHaveLength(erpImportLines);
    const keys = new Set(lines.map((line) => `${line.product_id}/${line.warehouse_id}`));
    const products = new Set(lines.map((line) => line.product_id));
    // Uniform draws: about 4,000 × (1 − e^−2.5) ≈ 3,670 distinct keys.
    expect(keys.size).toBeGreaterThan(3400);
    expect(products.size).toBeGreaterThan(erpProducts * 0.9);
    expect(lines.some((line) => line.product_id === 'hot-sku')).toBe(false);
    const sets = lines.filter((line) => line.op === 'set').length;
    expect(sets / lines.length).toBeGreaterThan(0.2);
    expect(sets / lines.length).toBeLessThan(0.3);
    expect(lines.every((line) => line.op === 'set' || line.op === 'adjust')).toBe(true);
    expect(lines.every((line) => line.delta !== 0)).toBe(true);
  });

  it('gives every line its own idempotency key within the endpoint bounds, in a file < 4 MiB', () => {
    const feed = feedAfterInitial();
    const keys = [...parse(feed.next()), ...parse(feed.next())].map((l) => l.idempotency_key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.every((key) => /^[\x20-\x7e]{16,128}$/.test(key))).toBe(true);
    expect(Buffer.byteLength(feed.next().body)).toBeLessThan(4 * 1024 * 1024);
  });

  it('never takes a key below 0, and expects what its lines add up to', () => {
    const feed = feedAfterInitial(3);
    const onHand = new Map<string, number>();
    const version = new Map<string, number>();
    const all = [feed.next(), feed.next(), feed.next()];
    for (const imported of all) {
      for (const line of imported.lines) {
        expect(line.onHandAfter).toBeGreaterThanOrEqual(0);
        onHand.set(String(line.keyIndex), line.onHandAfter);
        version.set(String(line.keyIndex), line.versionAfter);
      }
    }
    const touched = all[2]?.lines[0]?.keyIndex ?? 0;
    expect(feed.expected(touched)).toEqual({
      onHand: onHand.get(String(touched)),
      version: version.get(String(touched)),
    });
    // The initial import set each key once: version 1 + the key's lines in the three imports.
    const lineCount = all.flatMap((i) => i.lines).filter((l) => l.keyIndex === touched).length;
    expect(feed.expected(touched).version).toBe(1 + lineCount);
  });

  it('takes back imports made but not sent, and makes the same ones again', () => {
    const feed = feedAfterInitial();
    const sent = feed.next();
    const before = Array.from({ length: erpKeyCount }, (_, key) => feed.expected(key));
    const unsent = [feed.next(), feed.next()];
    feed.rewind(sent.index + 1);
    expect(Array.from({ length: erpKeyCount }, (_, key) => feed.expected(key))).toEqual(before);
    expect(feed.next().body).toBe(unsent[0]?.body);
  });
});

describe('checking an import answer', () => {
  const imported = feedAfterInitial().next();

  it('accepts an answer with every line applied at the stock expected after it', () => {
    const verdict = checkImportAnswer(JSON.stringify(faithfulAnswer(imported)), imported);
    expect(verdict).toMatchObject({ applied: 10_000, failed: 0, linesMatching: 10_000, ok: true });
  });

  it('refuses a failed line, a replayed line, a line applied twice and a missing result', () => {
    const failedLine = faithfulAnswer(imported);
    failedLine.failed = 1;
    failedLine.applied -= 1;
    failedLine.results[4] = { line: 5, status: 409, error: { code: 'insufficient_stock' } };
    const replayed = faithfulAnswer(imported);
    replayed.results[0] = { ...replayed.results[0], replayed: true };
    const doubled = faithfulAnswer(imported);
    const stock = doubled.results[9]?.stock as { version: number };
    doubled.results[9] = { ...doubled.results[9], stock: { ...stock, version: stock.version + 1 } };
    const short = faithfulAnswer(imported);
    short.results.pop();
    for (const answer of [failedLine, replayed, doubled, short]) {
      const verdict = checkImportAnswer(JSON.stringify(answer), imported);
      expect(verdict.ok).toBe(false);
      expect(verdict.mismatches.length).toBeGreaterThan(0);
    }
    expect(checkImportAnswer('<html>', imported).ok).toBe(false);
  });
});

describe('the schedule', () => {
  it('measures the share of the window an import was running, overlaps counted once', () => {
    const window = { startMs: 1000, endMs: 2000 };
    expect(windowCoverage([], window)).toBe(0);
    expect(windowCoverage([{ startMs: 900, endMs: 2100 }], window)).toBe(1);
    const parts = [
      { startMs: 1000, endMs: 1400 },
      { startMs: 1300, endMs: 1500 },
      { startMs: 1600, endMs: 2500 },
    ];
    expect(windowCoverage(parts, window)).toBeCloseTo(0.9);
  });

  it('runs the hot-SKU load alone first in odd pairs and with imports first in even ones', () => {
    expect([1, 2, 3].map(pairOrder)).toEqual([
      ['alone', 'with imports'],
      ['with imports', 'alone'],
      ['alone', 'with imports'],
    ]);
  });
});
