// A node's part in a cluster: it says it lives, renews the leases it holds, takes its share of
// free partitions and hands over what is above its share, on a short tick. It is also the
// node's map of where each partition is served (the router asks it for every command).
//
// When may a node answer from its memory? Only while its lease is valid by its own clock, with a
// margin: a lease taken or renewed by a statement sent at local time t0 runs out on Postgres's
// clock at (Postgres's now() during the statement) + lease, which is after t0 + lease in real
// time. The node counts it valid until t0 + lease - margin (the margin covers clocks that run at
// slightly different rates), so it stops answering before any other node may take the lease over.
// Writes need no clock at all: each is fenced by the lease's epoch in Postgres.
import type { ClusterLeases, ClusterSight, TakenLease } from '../persistence/index.js';
import type { Placement } from '../router/index.js';
import { planAssignment } from './assignment.js';

/** What a node's shards do when partitions come and go. */
export interface PartitionHost {
  /** Recovers the partitions from the journal; resolves once they are served. */
  adopt(leases: readonly TakenLease[]): Promise<void>;
  /** Stops serving them (`handOver`: after their writes are durable and a snapshot). */
  drop(partitions: readonly number[], handOver: boolean): Promise<void>;
}

export interface LeaseKeeperOptions {
  readonly self: string;
  readonly leaseMs: number;
  readonly leases: ClusterLeases;
  readonly host: PartitionHost;
  /** Monotonic milliseconds (performance.now in production). */
  readonly now: () => number;
  readonly log: (level: 'info' | 'warn' | 'error', fields: object, message: string) => void;
  /** Partitions handed over per tick at most (a joining node takes its share gradually). */
  readonly releaseMax?: number;
  /** Tells the other nodes that partitions were taken or let go (they look again at once). */
  readonly announce?: () => void;
}

interface Held {
  readonly epoch: number;
  /** Local monotonic time until which this node may answer for the partition. */
  validUntilMs: number;
  /** Recovered and served by a shard (false while it is adopted or dropped). */
  serving: boolean;
}

/** The cluster as /v1/cluster shows it. */
export interface ClusterView {
  readonly node_id: string;
  readonly nodes: readonly {
    readonly node_id: string;
    readonly partitions: number;
    readonly ready: boolean;
  }[];
  readonly partitions: number;
}

export class LeaseKeeper {
  private readonly held = new Map<number, Held>();
  /** Other nodes' live leases, as of the last look. */
  private owners = new Map<number, string>();
  /** Partitions whose lease was let go (no owner named), as of the last look. */
  private released = new Set<number>();
  /** A tick was asked for while one ran: another follows it at once. */
  private again = false;
  private sight: ClusterSight = { nodes: [], leases: [] };
  private draining = false;
  private joined = false;
  private timer: NodeJS.Timeout | undefined;
  /** When the scheduled tick is due (monotonic ms). */
  private dueAtMs = Number.POSITIVE_INFINITY;
  private ticking: Promise<void> | undefined;
  /** Partitions being taken or handed over (in the background of the ticks). */
  private moving: Promise<void> | undefined;
  private stopped = false;
  /** The validity margin: a fifth of the lease. */
  private readonly marginMs: number;

  constructor(private readonly options: LeaseKeeperOptions) {
    this.marginMs = options.leaseMs / 5;
  }

  /** Where the partition's commands go: here, to its owner, or nowhere now (503). */
  where(partition: number): Placement {
    const nowMs = this.options.now();
    this.tickIfDue(nowMs);
    const held = this.held.get(partition);
    if (held !== undefined) {
      if (nowMs >= held.validUntilMs) return undefined;
      // Being recovered here, or handed over from here: its commands wait for the next owner.
      return held.serving ? 'local' : 'moving';
    }
    const node = this.owners.get(partition);
    if (node !== undefined) return { node };
    // Let go cleanly (no owner named): another node is taking it. Otherwise its owner died and
    // the lease has to run out first: 503 until then.
    return this.released.has(partition) ? 'moving' : undefined;
  }

  /** Joined, and every partition held is served here (readiness). */
  get ready(): boolean {
    if (!this.joined || this.draining) return false;
    const now = this.options.now();
    for (const held of this.held.values()) {
      if (!held.serving || now >= held.validUntilMs) return false;
    }
    return true;
  }

  view(): ClusterView {
    const counts = new Map<string, number>();
    for (const lease of this.sight.leases) {
      if (lease.live && lease.nodeId !== null) {
        counts.set(lease.nodeId, (counts.get(lease.nodeId) ?? 0) + 1);
      }
    }
    return {
      node_id: this.options.self,
      nodes: this.sight.nodes.map((node) => ({
        node_id: node.nodeId,
        partitions: counts.get(node.nodeId) ?? 0,
        ready: node.ready,
      })),
      partitions: this.sight.leases.length,
    };
  }

  /** The first tick (joins the cluster), then one every quarter lease. */
  async start(): Promise<void> {
    await this.tick();
    this.schedule();
  }

  private schedule(delayMs = this.options.leaseMs / 4): void {
    if (this.stopped) return;
    this.dueAtMs = this.options.now() + delayMs;
    this.timer = setTimeout(this.fire, delayMs);
  }

  /**
   * Runs the scheduled tick now if it is due and its timer has not fired. A crowd that keeps
   * thousands of sockets readable holds the HTTP thread in one event-loop turn for seconds, and
   * timers wait for its end: renewals that late would let this node's leases run out in the
   * middle of a sale (seen: leases lost under wrk's 5,000 connections). Every command asks
   * where(), so the tick is never later than the next command after it is due.
   */
  private tickIfDue(nowMs: number): void {
    if (this.timer === undefined || this.stopped || nowMs < this.dueAtMs) return;
    clearTimeout(this.timer);
    this.fire();
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.dueAtMs = Number.POSITIVE_INFINITY;
    this.ticking = this.tick()
      .catch((error: unknown) => {
        this.options.log('warn', { err: error }, 'cluster tick failed');
      })
      .finally(() => {
        this.ticking = undefined;
        const again = this.again;
        this.again = false;
        this.schedule(again ? 0 : undefined);
      });
  };

  /**
   * Another node took or let go of partitions (told over NATS): look again now rather than at
   * the next tick, so a hand-over's next owner takes over, and everyone finds it, at once.
   */
  poke(): void {
    if (this.stopped) return;
    if (this.ticking !== undefined) {
      this.again = true;
      return;
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.schedule(0);
  }

  /** One round: heartbeat, renew, look, then take or hand over partitions. */
  async tick(): Promise<void> {
    const { leases, now } = this.options;
    const startedMs = now();
    await leases.heartbeat(this.ready, this.draining);
    this.joined = true;
    const mine = [...this.held].map(([partition, { epoch }]) => ({ partition, epoch }));
    const kept = new Set(await leases.renew(mine));
    const lost: number[] = [];
    for (const [partition, held] of this.held) {
      if (kept.has(partition)) held.validUntilMs = startedMs + this.options.leaseMs - this.marginMs;
      else lost.push(partition);
    }
    if (lost.length > 0) await this.lose(lost);
    this.sight = await leases.look();
    const owners = new Map<number, string>();
    const released = new Set<number>();
    for (const lease of this.sight.leases) {
      if (lease.nodeId === null) released.add(lease.partition);
      else if (lease.live && lease.nodeId !== this.options.self) {
        owners.set(lease.partition, lease.nodeId);
      }
    }
    this.owners = owners;
    this.released = released;
    // One move at a time, in the background: recovering a partition can take longer than a
    // lease, and the leases held must be renewed meanwhile.
    if (this.draining || this.moving !== undefined) return;
    const plan = planAssignment(
      this.options.self,
      this.sight,
      new Set(this.held.keys()),
      this.options.releaseMax ?? Number.POSITIVE_INFINITY,
    );
    const move =
      plan.release.length > 0
        ? this.handOver(plan.release)
        : plan.acquire.length > 0
          ? this.take(plan.acquire)
          : undefined;
    if (move === undefined) return;
    this.moving = move
      .catch((error: unknown) => this.options.log('warn', { err: error }, 'partition move failed'))
      .finally(() => (this.moving = undefined));
  }

  /** Leases taken over by another node: forgotten at once, nothing more written or answered. */
  private async lose(partitions: readonly number[]): Promise<void> {
    for (const partition of partitions) this.held.delete(partition);
    this.options.log('warn', { partitions }, 'partition leases lost to another node');
    await this.options.host.drop(partitions, false);
  }

  private async take(partitions: readonly number[]): Promise<void> {
    const startedMs = this.options.now();
    const taken = await this.options.leases.acquire(partitions);
    if (taken.length === 0) return;
    const validUntilMs = startedMs + this.options.leaseMs - this.marginMs;
    for (const { partition, epoch } of taken) {
      this.held.set(partition, { epoch, validUntilMs, serving: false });
      this.owners.delete(partition);
    }
    const recoveredMs = this.options.now();
    try {
      await this.options.host.adopt(taken);
    } catch (error) {
      // Not served, so not kept: renewed, these leases would stay "moving" on this node for as
      // long as it lives, and no node would ever serve them. Let go, they are taken again (here
      // or elsewhere) at a later tick, recovered afresh.
      for (const { partition, epoch } of taken) {
        if (this.held.get(partition)?.epoch === epoch) this.held.delete(partition);
      }
      await this.options.host.drop(
        taken.map((lease) => lease.partition),
        false,
      );
      await this.options.leases.release(taken);
      throw error;
    }
    for (const { partition, epoch } of taken) {
      const held = this.held.get(partition);
      if (held?.epoch === epoch) held.serving = true;
    }
    this.options.announce?.();
    this.options.log(
      'info',
      { partitions: taken.length, recovery_ms: Math.round(this.options.now() - recoveredMs) },
      'partitions taken',
    );
  }

  /** Stops serving the partitions, lets their writes end, then frees their leases. */
  private async handOver(partitions: readonly number[]): Promise<void> {
    const leaving: TakenLease[] = [];
    for (const partition of partitions) {
      const held = this.held.get(partition);
      if (held === undefined) continue;
      held.serving = false;
      leaving.push({ partition, epoch: held.epoch });
    }
    await this.options.host.drop(
      leaving.map((lease) => lease.partition),
      true,
    );
    await this.options.leases.release(leaving);
    for (const { partition } of leaving) {
      this.held.delete(partition);
      this.released.add(partition);
    }
    this.options.announce?.();
    this.options.log('info', { partitions: leaving.length }, 'partitions handed over');
  }

  /**
   * A clean stop: says it drains (the others take its share), hands every partition over and
   * leaves the node table.
   */
  async leave(): Promise<void> {
    this.draining = true;
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
    await this.moving;
    try {
      await this.options.leases.heartbeat(false, true);
      await this.handOver([...this.held.keys()]);
      await this.options.leases.leave();
    } catch (error) {
      // The leases run out by themselves; the others take them over then.
      this.options.log('warn', { err: error }, 'leaving the cluster failed');
    }
  }
}
