// Proves how a group commit's movements become rows: one row per stock key (its first movement
// in the row's columns, the rest packed in order), a new row once one is full, and for any
// interleaving of keys (fast-check) every movement in exactly one row, each key's rows holding
// disjoint runs of versions ordered as their first versions, which the history's paging needs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MovementColumns } from '../../../src/persistence/journal-connection.js';
import {
  MovementRows,
  movementsPerRowMax,
  packLater,
  unpackLater,
  type MovementRow,
} from '../../../src/persistence/movement-rows.js';

function movement(productId: string, warehouseId: string, version: number): MovementColumns {
  return {
    productId,
    warehouseId,
    version,
    atMs: 1_790_000_000_000 + version,
    onHand: 100,
    reserved: version,
    incoming: 0,
    subject: version % 2 === 0 ? 'bob' : '',
  };
}

const payloadOf = (version: number): Uint8Array => Uint8Array.of(version & 255, version >> 8, 7);

/** Each row's movements as (key, version), its first then its later ones (their payloads read). */
function versionsOf(row: MovementRow): number[] {
  return [row.first.version, ...row.later.map(([payload]) => payload[0]! + payload[1]! * 256)];
}

describe('MovementRows', () => {
  it('puts a key’s movements in one row: the first as columns, the rest packed in order', () => {
    const rows = new MovementRows();
    rows.add(1, movement('p', 'w1', 5), payloadOf(5));
    rows.add(2, movement('p', 'w2', 9), payloadOf(9));
    rows.add(3, movement('q', 'w1', 1), payloadOf(1));
    rows.add(4, movement('p', 'w1', 6), payloadOf(6));
    rows.add(6, movement('p', 'w1', 7), payloadOf(7));
    expect(
      rows.rows.map((row) => [row.rowNumber, row.first.productId, row.first.warehouseId]),
    ).toEqual([
      [1, 'p', 'w1'],
      [2, 'p', 'w2'],
      [3, 'q', 'w1'],
    ]);
    const [first] = rows.rows;
    expect(first?.later).toEqual([
      [payloadOf(6), 100, 6, 0, 'bob'],
      [payloadOf(7), 100, 7, 0, ''],
    ]);
    expect(rows.rows.slice(1).map((row) => row.later)).toEqual([[], []]);
  });

  it(`opens a new row for the key once one holds ${movementsPerRowMax}`, () => {
    const rows = new MovementRows();
    const count = movementsPerRowMax * 2 + 3;
    for (let version = 1; version <= count; version += 1) {
      rows.add(version, movement('hot', 'w', version), payloadOf(version));
    }
    expect(rows.rows.map((row) => row.later.length + 1)).toEqual([
      movementsPerRowMax,
      movementsPerRowMax,
      3,
    ]);
    expect(rows.rows.map((row) => row.rowNumber)).toEqual([1, 33, 65]);
    expect(rows.rows.flatMap(versionsOf)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  });

  it('keeps every movement once, each key’s rows disjoint runs in order, whatever the mix', () => {
    const keys = fc.constantFrom(['a', 'w1'], ['a', 'w2'], ['b', 'w1'], ['c', 'w9']);
    fc.assert(
      fc.property(fc.array(keys, { maxLength: 200 }), (picks) => {
        const rows = new MovementRows();
        const versions = new Map<string, number>();
        picks.forEach(([productId, warehouseId], index) => {
          const name = `${productId}/${warehouseId}`;
          const version = (versions.get(name) ?? 0) + 1;
          versions.set(name, version);
          rows.add(index + 1, movement(productId, warehouseId, version), payloadOf(version));
        });
        for (const [name, last] of versions) {
          const mine = rows.rows.filter(
            (row) => `${row.first.productId}/${row.first.warehouseId}` === name,
          );
          // Runs in the order of their first versions, together every version once, in order.
          expect(mine.flatMap(versionsOf)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
          for (const row of mine) expect(row.later.length).toBeLessThan(movementsPerRowMax);
        }
        expect(rows.rows.reduce((sum, row) => sum + row.later.length + 1, 0)).toBe(picks.length);
      }),
    );
  });
});

describe('later movements, packed', () => {
  it('come back as they went, payload bytes included', () => {
    const later = [
      [payloadOf(2), 10, 3, 0, 'bob'],
      [new Uint8Array(300).fill(9), 1e12, 0, 5, ''],
    ] as const;
    const unpacked = unpackLater(packLater(later.map((entry) => [...entry])));
    expect(unpacked.map(([payload, ...rest]) => [Array.from(payload), ...rest])).toEqual(
      later.map(([payload, ...rest]) => [Array.from(payload), ...rest]),
    );
  });

  it('packs only the bytes of a view, not the buffer under it', () => {
    const buffer = Uint8Array.of(1, 2, 3, 4, 5, 6);
    const [entry] = unpackLater(packLater([[buffer.subarray(2, 4), 0, 0, 0, '']]));
    expect(Array.from(entry?.[0] ?? [])).toEqual([3, 4]);
  });

  it('refuses bytes that are not a list of later movements', () => {
    expect(() => unpackLater(packLater([[payloadOf(1), 1, 2, 3]] as never))).toThrow(/not a list/);
    expect(() => unpackLater(Uint8Array.of(0x2a))).toThrow(/not a list/);
  });
});
