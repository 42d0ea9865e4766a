// The cluster's lease table in memory, for the lease simulator: the rules of ClusterLeases
// (src/persistence/cluster-leases.ts) on the simulated clock, which stands for Postgres's one
// clock. A lease is taken only when free or run out, each time at the next epoch; it is renewed
// only by its node at its epoch; it is let go only by its node at its epoch. The journal's fence
// (`fenceOf`) is ledger_fence's rule: every (partition, epoch) written must be the node's lease.
import type { TakenLease } from '../../src/persistence/index.js';

interface LeaseRow {
  node: string | null;
  epoch: number;
  expiresAtMs: number;
}

export class LeaseTable {
  private readonly rows = new Map<number, LeaseRow>();

  constructor(
    partitions: readonly number[],
    private readonly leaseMs: number,
  ) {
    for (const partition of partitions) {
      this.rows.set(partition, { node: null, epoch: 0, expiresAtMs: Number.NEGATIVE_INFINITY });
    }
  }

  private row(partition: number): LeaseRow {
    const row = this.rows.get(partition);
    if (row === undefined) throw new Error(`no lease row for partition ${partition}`);
    return row;
  }

  /** Takes the listed partitions whose lease is free or run out, each at the next epoch. */
  acquire(node: string, partitions: readonly number[], nowMs: number): TakenLease[] {
    const taken: TakenLease[] = [];
    for (const partition of partitions) {
      const row = this.row(partition);
      if (row.node !== null && row.expiresAtMs > nowMs) continue;
      row.node = node;
      row.epoch += 1;
      row.expiresAtMs = nowMs + this.leaseMs;
      taken.push({ partition, epoch: row.epoch });
    }
    return taken;
  }

  /** Extends the node's leases at their epochs; returns the partitions still held. */
  renew(node: string, held: readonly TakenLease[], nowMs: number): number[] {
    const kept: number[] = [];
    for (const { partition, epoch } of held) {
      const row = this.row(partition);
      if (row.node !== node || row.epoch !== epoch) continue;
      row.expiresAtMs = nowMs + this.leaseMs;
      kept.push(partition);
    }
    return kept;
  }

  /** Lets leases go, free at once; one already taken over is left alone. */
  release(node: string, leases: readonly TakenLease[]): void {
    for (const { partition, epoch } of leases) {
      const row = this.row(partition);
      if (row.node !== node || row.epoch !== epoch) continue;
      row.node = null;
      row.expiresAtMs = Number.NEGATIVE_INFINITY;
    }
  }

  /** Partitions another node may take now (free, or run out by the clock). */
  takable(nowMs: number): number[] {
    return [...this.rows]
      .filter(([, row]) => row.node === null || row.expiresAtMs <= nowMs)
      .map(([partition]) => partition);
  }

  /** Whose lease the partition is, at which epoch (run out or not: the fence ignores time). */
  holder(partition: number): { readonly node: string | null; readonly epoch: number } {
    const { node, epoch } = this.row(partition);
    return { node, epoch };
  }

  /**
   * ledger_fence: the partitions of `leases` that are not the node's lease at that epoch (empty:
   * the write may land). Like the function, it looks at owner and epoch only, never at time: a
   * lease run out that nobody took yet still lets its owner write.
   */
  fenceOf(node: string, leases: readonly TakenLease[]): number[] {
    const lost = new Set<number>();
    for (const { partition, epoch } of leases) {
      const row = this.row(partition);
      if (row.node !== node || row.epoch !== epoch) lost.add(partition);
    }
    return [...lost].sort((a, b) => a - b);
  }
}
