// The ERP feed of the erp-sync bench: deterministic NDJSON stock imports (POST /v1/stock/import)
// of mixed adjust and set lines over a catalogue of a few thousand stock keys across many
// products, every line with its own idempotency key; the stock each line must leave behind; and
// the check of an import's answer against it. Pure: no I/O, no clock. The same seed and tag give
// the same files, line for line.
import type { StockKey } from './scenarios.js';

/** Products of the feed's catalogue; each is stocked in every warehouse below. */
export const erpProducts = 2000;
export const erpWarehouses: readonly string[] = ['erp-wh-1', 'erp-wh-2'];
export const erpKeyCount = erpProducts * erpWarehouses.length;
/** Lines of one measured import: the ledger's default bound (LEDGER_IMPORT_LINES_MAX). */
export const erpImportLines = 10_000;
/** Share of set lines (a stock take's count); the others are adjusts (deliveries, damages). */
export const erpSetShare = 0.25;
/** A set line's on_hand, and each key's in the initial import, is drawn from this range. */
const setOnHandMin = 100;
const setOnHandMax = 1000;
/**
 * An adjust's delta is drawn from -adjustDownMax..+adjustUpMax, never 0 (refused by the
 * endpoint) and never below the key's on_hand at that line, so that no line can be refused
 * for insufficient stock: every line of a sound ledger applies, and `failed` must be 0.
 */
const adjustDownMax = 10;
const adjustUpMax = 20;
const reason = 'erp sync';

export function erpKeyAt(index: number): StockKey {
  const product = Math.floor(index / erpWarehouses.length);
  return {
    productId: `erp-${String(product).padStart(5, '0')}`,
    warehouseId: erpWarehouses[index % erpWarehouses.length] ?? '',
  };
}

/** mulberry32: a small, well-spread generator of numbers in [0, 1) from a 32-bit seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ErpLine {
  readonly keyIndex: number;
  readonly op: 'adjust' | 'set';
  /** adjust: its delta; set: its on_hand. */
  readonly value: number;
  /** What the key must show right after this line: every line of a key bumps its version. */
  readonly onHandAfter: number;
  readonly versionAfter: number;
}

export interface ErpImport {
  /** 0 is the initial import (one set line per key); measured imports are 1, 2, ... */
  readonly index: number;
  readonly lines: readonly ErpLine[];
  /** The NDJSON file, one line per entry of `lines`, each ending with a newline. */
  readonly body: string;
}

interface Draw {
  readonly keyIndex: number;
  readonly op: 'adjust' | 'set';
  readonly value: number;
}

const integerIn = (random: () => number, min: number, max: number): number =>
  min + Math.floor(random() * (max - min + 1));

/** An adjust's delta that keeps on_hand at 0 or above, drawn uniformly, never 0. */
function adjustDelta(random: () => number, onHand: number): number {
  const down = Math.min(adjustDownMax, onHand);
  const delta = integerIn(random, -down, adjustUpMax - 1);
  return delta >= 0 ? delta + 1 : delta;
}

/**
 * The model of the catalogue as the imports leave it, and the generator of the next import.
 * Each import is drawn from its own stream (seed and import number), and the model advances as
 * if every line applied; imports must then be sent in the order they were made, one at a time.
 * Imports made ahead of time but never sent are taken back with `rewind`.
 */
export class ErpFeed {
  private readonly onHand = new Float64Array(erpKeyCount);
  private readonly version = new Float64Array(erpKeyCount);
  /** The model before each import made since the last rewind, to take unsent ones back. */
  private readonly statesBefore = new Map<
    number,
    { onHand: Float64Array; version: Float64Array }
  >();
  private made = 0;

  /** `tag` goes into every idempotency key, so that two sittings never share one. */
  constructor(
    private readonly seed: number,
    private readonly tag: string,
  ) {}

  /** One set line per key, in key order, so that the measured imports update existing keys. */
  initial(): ErpImport {
    if (this.made !== 0) throw new Error('the initial import must be the first');
    const random = this.streamOf(0);
    return this.build(erpKeyCount, (line) => ({
      keyIndex: line,
      op: 'set',
      value: integerIn(random, setOnHandMin, setOnHandMax),
    }));
  }

  /** The next measured import: `lineCount` lines on keys drawn uniformly from the catalogue. */
  next(lineCount = erpImportLines): ErpImport {
    if (this.made === 0) throw new Error('the initial import comes first');
    const random = this.streamOf(this.made);
    return this.build(lineCount, () => {
      const keyIndex = Math.floor(random() * erpKeyCount);
      if (random() < erpSetShare) {
        return { keyIndex, op: 'set', value: integerIn(random, setOnHandMin, setOnHandMax) };
      }
      return { keyIndex, op: 'adjust', value: adjustDelta(random, this.onHand[keyIndex] ?? 0) };
    });
  }

  /** What a key must read once every import made so far has applied (version 0: never made). */
  expected(keyIndex: number): { readonly onHand: number; readonly version: number } {
    return { onHand: this.onHand[keyIndex] ?? 0, version: this.version[keyIndex] ?? 0 };
  }

  get importsMade(): number {
    return this.made;
  }

  /**
   * Imports from `firstUnsent` on were made but never sent: the model goes back to before them,
   * and the next import made is `firstUnsent` again, the same lines. Those before it were sent.
   */
  rewind(firstUnsent: number): void {
    if (firstUnsent < this.made) {
      const state = this.statesBefore.get(firstUnsent);
      if (state === undefined) throw new Error(`import ${firstUnsent} cannot be taken back`);
      this.onHand.set(state.onHand);
      this.version.set(state.version);
      this.made = firstUnsent;
    }
    this.statesBefore.clear();
  }

  private streamOf(index: number): () => number {
    return seededRandom((this.seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  }

  private build(lineCount: number, draw: (line: number) => Draw): ErpImport {
    const index = this.made;
    this.statesBefore.set(index, { onHand: this.onHand.slice(), version: this.version.slice() });
    this.made += 1;
    const lines: ErpLine[] = [];
    const text: string[] = [];
    for (let line = 0; line < lineCount; line += 1) {
      const { keyIndex, op, value } = draw(line);
      const onHandAfter = op === 'set' ? value : (this.onHand[keyIndex] ?? 0) + value;
      const versionAfter = (this.version[keyIndex] ?? 0) + 1;
      this.onHand[keyIndex] = onHandAfter;
      this.version[keyIndex] = versionAfter;
      lines.push({ keyIndex, op, value, onHandAfter, versionAfter });
      text.push(this.lineText(index, line, { keyIndex, op, value }));
    }
    return { index, lines, body: `${text.join('\n')}\n` };
  }

  private lineText(index: number, line: number, { keyIndex, op, value }: Draw): string {
    const key = erpKeyAt(keyIndex);
    return JSON.stringify({
      op,
      product_id: key.productId,
      warehouse_id: key.warehouseId,
      ...(op === 'set' ? { on_hand: value } : { delta: value }),
      reason,
      idempotency_key: `erp-${this.tag}-${index}-${line + 1}`,
    });
  }
}

export interface ImportVerdict {
  /** The answer's own counts (lines answered 200, and the others). */
  readonly applied: number | null;
  readonly failed: number | null;
  /** Lines whose result is a fresh 200 leaving the key at the on_hand and version expected. */
  readonly linesMatching: number;
  /** At most a few lines that did not, described, for the report. */
  readonly mismatches: readonly string[];
  readonly ok: boolean;
}

const mismatchesListed = 5;

interface LineResult {
  line?: unknown;
  status?: unknown;
  replayed?: unknown;
  error?: unknown;
  stock?: { product_id?: unknown; warehouse_id?: unknown; on_hand?: unknown; version?: unknown };
}

function lineMismatch(result: LineResult | undefined, expected: ErpLine, line: number) {
  if (result === undefined) return 'no result';
  if (result.line !== line) return `result for line ${String(result.line)}`;
  if (result.status !== 200) return `status ${String(result.status)} ${JSON.stringify(result)}`;
  if (result.replayed === true) return 'replayed (a line applied twice would be, too)';
  const key = erpKeyAt(expected.keyIndex);
  const stock = result.stock;
  if (stock?.product_id !== key.productId || stock.warehouse_id !== key.warehouseId) {
    return `stock of another key: ${JSON.stringify(stock)}`;
  }
  if (stock.on_hand !== expected.onHandAfter || stock.version !== expected.versionAfter) {
    return (
      `on_hand ${String(stock.on_hand)} version ${String(stock.version)}, expected ` +
      `${expected.onHandAfter} version ${expected.versionAfter}`
    );
  }
  return undefined;
}

/**
 * Checks an import's answer line by line: every line answered 200 (not a replay) with the
 * running on_hand and version its key must show after it. The lines of one key apply in file
 * order, so these are exact; a lost line or one applied twice shows as a wrong version.
 */
export function checkImportAnswer(text: string, imported: ErpImport): ImportVerdict {
  let body: { applied?: unknown; failed?: unknown; results?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch (error) {
    const mismatches = [`the answer is not JSON (${String(error)}): ${text.slice(0, 200)}`];
    return { applied: null, failed: null, linesMatching: 0, mismatches, ok: false };
  }
  const applied = typeof body.applied === 'number' ? body.applied : null;
  const failed = typeof body.failed === 'number' ? body.failed : null;
  const results = Array.isArray(body.results) ? (body.results as LineResult[]) : [];
  const mismatches: string[] = [];
  let linesMatching = 0;
  imported.lines.forEach((expected, index) => {
    const why = lineMismatch(results[index], expected, index + 1);
    if (why === undefined) linesMatching += 1;
    else if (mismatches.length < mismatchesListed) mismatches.push(`line ${index + 1}: ${why}`);
  });
  if (results.length !== imported.lines.length) {
    mismatches.push(`${results.length} results for ${imported.lines.length} lines`);
  }
  const lineCount = imported.lines.length;
  const ok =
    applied === lineCount &&
    failed === 0 &&
    results.length === lineCount &&
    linesMatching === lineCount;
  return { applied, failed, linesMatching, mismatches, ok };
}

/**
 * The share of a window that the given intervals cover (their union, clipped to the window):
 * how much of the measured window had an import running.
 */
export function windowCoverage(
  intervals: readonly { readonly startMs: number; readonly endMs: number }[],
  window: { readonly startMs: number; readonly endMs: number },
): number {
  const length = window.endMs - window.startMs;
  if (length <= 0) return 0;
  const clipped = intervals
    .map((interval) => ({
      startMs: Math.max(interval.startMs, window.startMs),
      endMs: Math.min(interval.endMs, window.endMs),
    }))
    .filter((interval) => interval.endMs > interval.startMs)
    .sort((a, b) => a.startMs - b.startMs);
  let covered = 0;
  let reachedMs = window.startMs;
  for (const interval of clipped) {
    const from = Math.max(interval.startMs, reachedMs);
    if (interval.endMs > from) covered += interval.endMs - from;
    reachedMs = Math.max(reachedMs, interval.endMs);
  }
  return covered / length;
}
