// Proves the import's pacing with the real validator and a scripted shard whose every answer the
// test decides: at most a window of lines in flight, sent in file order, results in line order
// whatever order the answers come in; a line refused at dispatch (the shard's in-flight bound)
// is held, no later line overtakes it, and it is sent again after a wait, or answered 503 once
// the import has waited its budget; lines that never become commands are never sent.
import { describe, expect, it } from 'vitest';
import type { RoutableCommand } from '../../../src/router/index.js';
import type { ShardOutcome } from '../../../src/shards/index.js';
import { importOverloadedWaitMsMax } from '../../../src/limits.js';
import { StockImport, type ImportTimers, type LineEnd } from '../../../src/http/stock-import.js';
import { ValidationError } from '../../../src/http/validate.js';
import { testValidator } from '../../helpers/validation.js';

const validator = testValidator();

/** A clock and timers the test moves by hand. */
class ManualTimers implements ImportTimers {
  private nowMs = 0;
  private due: Array<{ atMs: number; run: () => void }> = [];

  now(): number {
    return this.nowMs;
  }

  after(delayMs: number, run: () => void): () => void {
    const entry = { atMs: this.nowMs + delayMs, run };
    this.due.push(entry);
    return () => (this.due = this.due.filter((other) => other !== entry));
  }

  advance(ms: number): void {
    this.nowMs += ms;
    const ready = this.due.filter((entry) => entry.atMs <= this.nowMs);
    this.due = this.due.filter((entry) => entry.atMs > this.nowMs);
    for (const entry of ready) entry.run();
  }
}

type Adjust = Extract<RoutableCommand, { kind: 'adjust' }>;

/** A shard that keeps on_hand per key and answers when (and how) the test says. */
class ScriptedShard {
  readonly sent: Adjust[] = [];
  readonly waiting: Array<{ command: Adjust; done: (outcome: ShardOutcome) => void }> = [];
  /** Refuses at dispatch (as a full shard channel does) while this says so. */
  refuse: (command: Adjust) => boolean = () => false;
  private readonly onHand = new Map<string, number>();

  dispatch(command: RoutableCommand, done: (outcome: ShardOutcome) => void): void {
    if (command.kind !== 'adjust') throw new Error(`unexpected ${command.kind}`);
    if (this.refuse(command)) {
      done({ ok: false, code: 'overloaded' });
      return;
    }
    this.sent.push(command);
    this.waiting.push({ command, done });
  }

  /** Answers the waiting command at `index` (0 = the oldest). */
  answer(index: number): void {
    const [entry] = this.waiting.splice(index, 1);
    if (entry === undefined) throw new Error('nothing waiting there');
    const { command, done } = entry;
    const key = `${command.productId}/${command.warehouseId}`;
    const onHand = (this.onHand.get(key) ?? 0) + command.delta;
    if (onHand < 0) {
      done({
        ok: false,
        code: 'insufficient_stock',
        details: { available: onHand - command.delta },
      });
      return;
    }
    this.onHand.set(key, onHand);
    const stock = {
      productId: command.productId,
      warehouseId: command.warehouseId,
      onHand,
      reserved: 0,
      available: onHand,
      version: 1,
    };
    done({ ok: true, stock, replayed: false });
  }
}

interface Run {
  readonly shard: ScriptedShard;
  readonly timers: ManualTimers;
  readonly ends: LineEnd[];
  readonly run: StockImport;
  answer(): Record<string, unknown> | undefined;
}

function importOf(text: string, windowMax: number): Run {
  const shard = new ScriptedShard();
  const timers = new ManualTimers();
  const ends: LineEnd[] = [];
  let body: string | undefined;
  const run = new StockImport(
    Buffer.from(text),
    {
      command(route, line) {
        expect(route).toBe('adjust');
        try {
          return { ok: true, command: validator.adjust(line, 'trace', { subject: '' }) };
        } catch (error) {
          if (!(error instanceof ValidationError)) throw error;
          const details = { field: error.field };
          return { ok: false, code: 'validation_failed', message: error.message, details };
        }
      },
      dispatch: (command, done) => shard.dispatch(command, done),
      settled: (end) => ends.push(end),
      finished: (json) => (body = json),
    },
    windowMax,
    timers,
  );
  const answer = () =>
    body === undefined ? undefined : (JSON.parse(body) as Record<string, unknown>);
  return { shard, timers, ends, run, answer };
}

const adjust = (product: string, delta: number) =>
  JSON.stringify({ op: 'adjust', product_id: product, warehouse_id: 'w', delta });

describe('a stock import', () => {
  it('keeps at most the window in flight, sends in file order, answers in line order', () => {
    const lines = Array.from({ length: 20 }, (_, index) => adjust(`p${index % 3}`, index + 1));
    const { shard, run, answer } = importOf(lines.join('\n'), 4);
    run.start();
    while (shard.waiting.length > 0) {
      expect(shard.waiting.length).toBeLessThanOrEqual(4);
      shard.answer(shard.waiting.length - 1); // the newest first: answers out of order
    }
    expect(shard.sent.map((command) => command.delta)).toEqual(lines.map((_, i) => i + 1));
    const body = answer() as { applied: number; failed: number; results: { line: number }[] };
    expect(body.applied).toBe(20);
    expect(body.failed).toBe(0);
    expect(body.results.map((result) => result.line)).toEqual(lines.map((_, i) => i + 1));
  });

  it('answers lines that are not JSON, name no known op or fail validation, sending none', () => {
    const text = ['nope', '{"op":"delete"}', '{"delta":1}', adjust('p', 0), adjust('p', 2)];
    const { shard, run, answer, ends } = importOf(`${text.join('\n')}\n`, 8);
    run.start();
    expect(shard.sent).toHaveLength(1);
    shard.answer(0);
    expect(answer()).toEqual({
      applied: 1,
      failed: 4,
      results: [
        {
          line: 1,
          status: 400,
          error: { code: 'malformed_json', message: 'line 1 is not valid UTF-8 JSON' },
        },
        {
          line: 2,
          status: 422,
          error: {
            code: 'validation_failed',
            message: expect.stringMatching(/^op must be one of: .*\badjust\b/) as unknown,
            details: { field: 'op' },
          },
        },
        {
          line: 3,
          status: 422,
          error: {
            code: 'validation_failed',
            message: expect.stringMatching(/^op must be one of: .*\badjust\b/) as unknown,
            details: { field: 'op' },
          },
        },
        {
          line: 4,
          status: 422,
          error: expect.objectContaining({ details: { field: 'delta' } }) as unknown,
        },
        {
          line: 5,
          status: 200,
          stock: {
            product_id: 'p',
            warehouse_id: 'w',
            on_hand: 2,
            reserved: 0,
            available: 2,
            incoming: 0,
            version: 1,
          },
        },
      ],
    });
    expect(ends.map((end) => end.result).sort()).toEqual(
      [
        'malformed_json',
        'validation_failed',
        'validation_failed',
        'validation_failed',
        'ok',
      ].sort(),
    );
  });

  it('holds a line refused at dispatch, lets no later line overtake it, and sends it again', () => {
    const lines = [adjust('a', 1), adjust('a', 2), adjust('a', 3)];
    const { shard, timers, run, answer } = importOf(lines.join('\n'), 8);
    let refusals = 3;
    shard.refuse = (command) => command.delta === 2 && refusals-- > 0;
    run.start();
    expect(shard.sent.map((command) => command.delta)).toEqual([1]);
    timers.advance(1_000);
    expect(shard.sent.map((command) => command.delta)).toEqual([1]);
    shard.answer(0); // a line of ours coming back is a moment to try again too
    timers.advance(1_000);
    expect(refusals).toBeLessThan(0);
    expect(shard.sent.map((command) => command.delta)).toEqual([1, 2, 3]);
    shard.answer(0);
    shard.answer(0);
    const results = (answer() as { results: { status: number; stock: { on_hand: number } }[] })
      .results;
    expect(results.map((result) => result.stock.on_hand)).toEqual([1, 3, 6]);
  });

  it('answers a refused line 503 overloaded once the import has waited its budget', () => {
    const lines = [adjust('a', 1), adjust('b', 2), adjust('c', 3)];
    const { shard, timers, run, answer } = importOf(lines.join('\n'), 8);
    shard.refuse = (command) => command.productId === 'b';
    run.start();
    shard.answer(0);
    for (let waited = 0; waited <= importOverloadedWaitMsMax; waited += 100) timers.advance(100);
    expect(shard.sent.map((command) => command.productId)).toEqual(['a', 'c']);
    shard.answer(0);
    const body = answer() as { applied: number; failed: number; results: unknown[] };
    expect(body.applied).toBe(2);
    expect(body.results[1]).toEqual({
      line: 2,
      status: 503,
      error: { code: 'overloaded', message: expect.any(String) as unknown },
    });
  });

  it('sends no more lines once stopped (the client went away)', () => {
    const lines = Array.from({ length: 10 }, () => adjust('a', 1));
    const { shard, run, answer } = importOf(lines.join('\n'), 2);
    run.start();
    run.stop();
    shard.answer(0);
    shard.answer(0);
    expect(shard.sent).toHaveLength(2);
    expect(answer()).toBeUndefined();
  });
});
