// Proves the migration's check finds what a faulty regrouping would do: a key lost or changed, a
// memo added or dropped, a key outside its product's partition, a hold its id no longer leads to.
import { describe, expect, it } from 'vitest';
import { PartitionState, captureSnapshot, restoreSnapshot } from '../../../src/actors/index.js';
import { compareRegrouped, regroupByProduct } from '../../../src/operations/index.js';
import { mintReservationId, partitionOf, partitionOfV1 } from '../../../src/router/index.js';
import { adjust, reserve, roomyRetention } from '../../helpers/actor-fixtures.js';

const partitions = 4;
const t0 = 1_700_000_000_000;

/** v1 partitions holding two products over two warehouses, with a hold and a keyed adjust each. */
function v1States(): PartitionState[] {
  const states = Array.from(
    { length: partitions },
    (_, p) => new PartitionState(p, roomyRetention),
  );
  for (const productId of ['sku-1', 'sku-2']) {
    for (const warehouseId of ['wh-1', 'wh-2']) {
      const partition = partitionOfV1(productId, warehouseId, partitions);
      const state = states[partition] as PartitionState;
      state.apply(
        adjust(10, { productId, warehouseId, idempotencyKey: `memo-${warehouseId}` }),
        t0,
      );
      const reservationId = mintReservationId(partition);
      state.apply(reserve({ productId, warehouseId, quantity: 2, reservationId }), t0 + 1);
    }
  }
  return states;
}

function regrouped(states: PartitionState[]) {
  const result = regroupByProduct(states.map(captureSnapshot), partitions, 60_000);
  return {
    after: result.snapshots.map((snapshot) => restoreSnapshot(snapshot, roomyRetention)),
    routes: new Map(result.routes.map((route) => [route.reservationId, route.partition])),
  };
}

describe('compareRegrouped', () => {
  it('finds nothing to say about a faithful regrouping', () => {
    const before = v1States();
    const { after, routes } = regrouped(before);
    expect(compareRegrouped(before, after, partitions, routes)).toStrictEqual([]);
  });

  it('reports a changed balance and a memo that was not there', () => {
    const before = v1States();
    const { after, routes } = regrouped(before);
    const home = after[partitionOf('sku-1', partitions)] as PartitionState;
    const actor = [...home.actors.values()][0];
    if (actor === undefined) throw new Error('no actor');
    actor.onHand += 1;
    expect(compareRegrouped(before, after, partitions, routes).join('\n')).toContain('"sku-1');
    const other = [...home.actors.values()][1];
    const memo = [...(other?.adjustKeys?.values() ?? [])][0];
    if (other === undefined || memo === undefined) throw new Error('no memo');
    other.restoreAdjustKey('memo-extra', memo);
    expect(compareRegrouped(before, after, partitions, routes)).toHaveLength(2);
  });

  it('reports holds that their ids no longer lead to, and keys outside their partition', () => {
    const before = v1States();
    const { after, routes } = regrouped(before);
    expect(routes.size).toBeGreaterThan(0);
    const problems = compareRegrouped(before, after, partitions, new Map());
    expect(problems.join('\n')).toMatch(/routes to \d+, is held in \d+/);
    // The v1 partitions themselves are not by product (for at least one key of these).
    const placement = compareRegrouped(before, before, partitions, new Map());
    expect(placement.join('\n')).toContain("is not in its product's partition");
  });
});
