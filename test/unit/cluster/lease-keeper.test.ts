// The lease keeper when taking partitions fails: a partition whose recovery failed must not stay
// held and "moving" on this node (renewed for ever, served by nobody); its lease is let go and it
// is taken again at a later tick. And when the HTTP thread's turn goes on past a tick's time (a
// crowd keeps its sockets readable, so timers wait): the next command's where() runs the tick.
import { describe, expect, it } from 'vitest';
import { LeaseKeeper } from '../../../src/cluster/index.js';
import type { ClusterLeases, TakenLease } from '../../../src/persistence/index.js';

/** One node, one partition: the lease table's rules for what this test needs. */
function tableOfOne() {
  let owner: string | null = null;
  let epoch = 0;
  const released: TakenLease[] = [];
  const leases = {
    heartbeat: () => Promise.resolve(),
    renew: (held: readonly TakenLease[]) =>
      Promise.resolve(
        held.filter((lease) => owner === 'a' && lease.epoch === epoch).map((l) => l.partition),
      ),
    look: () =>
      Promise.resolve({
        nodes: [{ nodeId: 'a', ready: true, draining: false }],
        leases: [{ partition: 0, nodeId: owner, epoch, live: owner !== null }],
      }),
    acquire: (partitions: readonly number[]) => {
      if (owner !== null) return Promise.resolve([]);
      owner = 'a';
      epoch += 1;
      return Promise.resolve(partitions.map((partition) => ({ partition, epoch })));
    },
    release: (taken: readonly TakenLease[]) => {
      released.push(...taken);
      if (taken.some((lease) => lease.epoch === epoch)) owner = null;
      return Promise.resolve();
    },
    leave: () => Promise.resolve(),
  };
  return { leases: leases as unknown as ClusterLeases, released };
}

describe('the lease keeper', () => {
  it('lets go of a partition whose recovery failed, and takes it again later', async () => {
    const { leases, released } = tableOfOne();
    let adopts = 0;
    const dropped: number[][] = [];
    let nowMs = 0;
    const keeper = new LeaseKeeper({
      self: 'a',
      leaseMs: 10_000,
      leases,
      host: {
        adopt: () => {
          adopts += 1;
          // The first recovery fails (the journal connection was lost), the next succeeds.
          return adopts === 1 ? Promise.reject(new Error('connection lost')) : Promise.resolve();
        },
        drop: (partitions) => {
          dropped.push([...partitions]);
          return Promise.resolve();
        },
      },
      now: () => nowMs,
      log: () => undefined,
    });
    const settle = () => new Promise((resolve) => setTimeout(resolve, 5));
    await keeper.tick();
    await settle();
    expect(adopts).toBe(1);
    expect(dropped).toEqual([[0]]);
    expect(released).toEqual([{ partition: 0, epoch: 1 }]);
    expect(keeper.where(0)).toBe('moving');
    nowMs += 2_500;
    await keeper.tick();
    await settle();
    expect(adopts).toBe(2);
    expect(keeper.where(0)).toBe('local');
    expect(keeper.ready).toBe(true);
  });

  it('renews on the next command once a tick is due, though its timer has not fired', async () => {
    const { leases } = tableOfOne();
    let heartbeats = 0;
    const counted = { ...leases, heartbeat: () => ((heartbeats += 1), Promise.resolve()) };
    let nowMs = 0;
    const keeper = new LeaseKeeper({
      self: 'a',
      leaseMs: 10_000,
      leases: counted as unknown as ClusterLeases,
      host: { adopt: () => Promise.resolve(), drop: () => Promise.resolve() },
      now: () => nowMs,
      log: () => undefined,
    });
    await keeper.start(); // the first tick, then the next one set for a quarter lease
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(heartbeats).toBe(1);
    expect(keeper.where(0)).toBe('local');
    // Not due yet: asking where() runs nothing.
    nowMs += 2_000;
    keeper.where(0);
    expect(heartbeats).toBe(1);
    // Due (a quarter lease has passed) while this thread never left its turn: where() ticks.
    nowMs += 600;
    keeper.where(0);
    expect(heartbeats).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 5));
    // The hold stays valid from this renewal on, not from the first one.
    nowMs += 6_000;
    expect(keeper.where(0)).toBe('local');
    await keeper.leave();
  });
});
