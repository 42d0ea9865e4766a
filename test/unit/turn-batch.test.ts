// Proves the HTTP thread's batching rule alone: a turn's items leave together at its end, a full
// batch and one whose first item has waited the bound leave at once, an item taken back never
// leaves, and a cleared batch sends nothing.
import { describe, expect, it } from 'vitest';
import { turnBatchMax, turnBatchWaitMsMax } from '../../src/limits.js';
import { TurnBatch } from '../../src/turn-batch.js';

function setUp() {
  const sent: number[][] = [];
  const turnEnd: (() => void)[] = [];
  const batch = new TurnBatch<number>(
    (items) => sent.push(items),
    (task) => turnEnd.push(task),
  );
  const endTurn = () => turnEnd.splice(0).forEach((task) => task());
  return { batch, sent, endTurn };
}

describe('TurnBatch', () => {
  it('sends a turn’s items together when the turn ends, and nothing for an empty turn', () => {
    const { batch, sent, endTurn } = setUp();
    batch.add(1, 0);
    batch.add(2, 1);
    expect(sent).toEqual([]);
    expect(batch.size).toBe(2);
    endTurn();
    expect(sent).toEqual([[1, 2]]);
    endTurn();
    expect(sent).toEqual([[1, 2]]);
  });

  it(`sends ${turnBatchMax} items at once, and the next ones at the turn's end`, () => {
    const { batch, sent, endTurn } = setUp();
    for (let item = 0; item <= turnBatchMax; item += 1) batch.add(item, 0);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toHaveLength(turnBatchMax);
    expect(batch.size).toBe(1);
    endTurn();
    expect(sent[1]).toEqual([turnBatchMax]);
  });

  it(`sends a batch whose first item waited ${turnBatchWaitMsMax} ms with the next item`, () => {
    const { batch, sent } = setUp();
    batch.add(1, 100);
    batch.add(2, 100 + turnBatchWaitMsMax - 1);
    expect(sent).toEqual([]);
    batch.add(3, 100 + turnBatchWaitMsMax);
    expect(sent).toEqual([[1, 2, 3]]);
    // The next batch's wait counts from its own first item.
    batch.add(4, 100 + turnBatchWaitMsMax + 1);
    expect(sent).toHaveLength(1);
  });

  it('never sends an item taken back, nor anything cleared', () => {
    const { batch, sent, endTurn } = setUp();
    batch.add(1, 0);
    batch.add(2, 0);
    expect(batch.remove((item) => item === 1)).toBe(true);
    expect(batch.remove((item) => item === 9)).toBe(false);
    endTurn();
    expect(sent).toEqual([[2]]);
    expect(batch.remove((item) => item === 2)).toBe(false);
    batch.add(3, 0);
    batch.clear();
    endTurn();
    expect(sent).toEqual([[2]]);
  });
});
