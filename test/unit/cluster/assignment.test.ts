// The share each node of a cluster takes, and the plan that gets it there: from any start, nodes
// planning in turn on what the lease table shows reach their shares, and no partition is ever
// planned for two nodes at once.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planAssignment, shareOf, type AssignmentSight } from '../../../src/cluster/index.js';

type Leases = (string | null)[];

const sightOf = (nodes: readonly string[], leases: Leases, draining = new Set<string>()) =>
  ({
    nodes: nodes.map((nodeId) => ({ nodeId, draining: draining.has(nodeId) })),
    leases: leases.map((nodeId, partition) => ({ partition, nodeId, live: nodeId !== null })),
  }) satisfies AssignmentSight;

const heldBy = (leases: Leases, node: string) =>
  new Set(leases.flatMap((owner, partition) => (owner === node ? [partition] : [])));

/** Each node in turn plans on the table as it is and applies its plan; until nothing moves. */
function settle(nodes: readonly string[], leases: Leases, draining = new Set<string>()): number {
  for (let round = 1; round <= 200; round += 1) {
    let moved = false;
    for (const node of nodes) {
      const plan = planAssignment(node, sightOf(nodes, leases, draining), heldBy(leases, node), 4);
      for (const partition of plan.release) leases[partition] = null;
      for (const partition of plan.acquire) {
        // The table's own rule: only a free lease is taken.
        expect(leases[partition]).toBeNull();
        leases[partition] = node;
      }
      moved ||= plan.release.length + plan.acquire.length > 0;
    }
    if (!moved) return round;
  }
  throw new Error('the assignment did not settle');
}

describe('cluster assignment', () => {
  it('gives every active node its share, the shares adding up to the partitions', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{1,6}$/), { minLength: 1, maxLength: 9 }),
        fc.integer({ min: 1, max: 300 }),
        (nodes, partitions) => {
          const sight = sightOf(nodes, new Array<string | null>(partitions).fill(null));
          const shares = nodes.map((node) => shareOf(node, sight, partitions));
          expect(shares.reduce((sum, share) => sum + share, 0)).toBe(partitions);
          expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
          expect(shareOf('not-a-member', sight, partitions)).toBe(0);
        },
      ),
    );
  });

  it('settles from any table at every node owning exactly its share', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{1,6}$/), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.nat(), { maxLength: 64 }),
        (nodes, partitions, picks) => {
          // Any start: partitions free, or held by a node (maybe more than its share).
          const leases: Leases = Array.from({ length: partitions }, (_, partition) => {
            const pick = picks[partition];
            return pick === undefined || pick % (nodes.length + 1) === nodes.length
              ? null
              : (nodes[pick % (nodes.length + 1)] as string);
          });
          settle(nodes, leases);
          const sight = sightOf(nodes, leases);
          for (const node of nodes) {
            expect(heldBy(leases, node).size).toBe(shareOf(node, sight, partitions));
          }
          expect(leases.every((owner) => owner !== null)).toBe(true);
        },
      ),
    );
  });

  it('a draining node hands everything over, a joining node takes its share', () => {
    const leases: Leases = new Array<string | null>(32).fill(null);
    settle(['a', 'b'], leases);
    expect(heldBy(leases, 'a').size).toBe(16);
    settle(['a', 'b', 'c'], leases);
    expect([...['a', 'b', 'c']].map((node) => heldBy(leases, node).size)).toEqual([11, 11, 10]);
    settle(['a', 'b', 'c'], leases, new Set(['b']));
    expect(heldBy(leases, 'b').size).toBe(0);
    expect(heldBy(leases, 'a').size + heldBy(leases, 'c').size).toBe(32);
  });

  it('lets nothing go while no other node is short of its share', () => {
    const leases: Leases = new Array<string | null>(8).fill('a');
    // 'b' is listed but already holds nothing and is draining: nobody would take a release.
    const plan = planAssignment(
      'a',
      sightOf(['a', 'b'], leases, new Set(['b'])),
      heldBy(leases, 'a'),
      8,
    );
    expect(plan).toEqual({ target: 8, acquire: [], release: [] });
  });
});
