// A cluster's membership and partition leases in Postgres (tables in migrations.ts, id 6). Every
// time here is Postgres's `now()`: one clock for all nodes, so no node's clock decides whether
// another's lease has run out. A node learns how long its own leases last from its own monotonic
// clock, started before it asked (cluster/lease-keeper.ts), which can only under-estimate them.
import type pg from 'pg';

/** A lease as the table holds it; `live`: not run out by Postgres's clock. */
export interface LeaseRow {
  readonly partition: number;
  readonly nodeId: string | null;
  readonly epoch: number;
  readonly live: boolean;
}

export interface NodeRow {
  readonly nodeId: string;
  readonly ready: boolean;
  readonly draining: boolean;
}

/** What one look at the cluster saw: the live nodes and every partition's lease. */
export interface ClusterSight {
  readonly nodes: readonly NodeRow[];
  readonly leases: readonly LeaseRow[];
}

/** A lease taken: the partition and the epoch every write under it carries. */
export interface TakenLease {
  readonly partition: number;
  readonly epoch: number;
}

const bigintOf = (value: string | number): number => Number(value);

/** What the lease statements run on: one connection at a time, replaced when it breaks. */
export interface LeaseConnection {
  query<Row extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: Row[] }>;
}

/**
 * A connection that is opened again after it broke (Postgres restarted, the network cut): the
 * statement that met the break fails, the next one runs on a new connection. `open` connects
 * and does whatever a new session needs first (the journal's shared lock).
 */
export class ReopeningConnection implements LeaseConnection {
  private current: Promise<pg.Client> | undefined;

  constructor(
    private readonly open: () => Promise<pg.Client>,
    first?: pg.Client,
  ) {
    if (first !== undefined) this.current = Promise.resolve(this.watch(first));
  }

  async query<Row extends pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: Row[] }> {
    this.current ??= this.open().then((client) => this.watch(client));
    const opening = this.current;
    let client: pg.Client;
    try {
      client = await opening;
    } catch (error) {
      if (this.current === opening) this.current = undefined;
      throw error;
    }
    return client.query<Row>(text, values);
  }

  /** A client whose connection ends or fails is forgotten: the next statement opens another. */
  private watch(client: pg.Client): pg.Client {
    const forget = (): void => {
      if (this.current !== undefined) {
        void this.current.then((current) => {
          if (current === client) this.current = undefined;
        });
      }
      client.end().catch(() => undefined);
    };
    client.on('error', forget);
    client.on('end', forget);
    return client;
  }

  async close(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    await (await current?.catch(() => undefined))?.end().catch(() => undefined);
  }
}

export class ClusterLeases {
  constructor(
    private readonly client: LeaseConnection,
    private readonly nodeId: string,
    private readonly leaseSeconds: number,
  ) {}

  /** One row per partition, none owned yet; run once a start, harmless when they exist. */
  async ensurePartitions(partitions: number): Promise<void> {
    await this.client.query(
      `INSERT INTO ledger_partition_leases (partition)
       SELECT generate_series(0, $1::integer - 1) ON CONFLICT (partition) DO NOTHING`,
      [partitions],
    );
  }

  /** Says this node lives (and whether it is ready, or draining) for one more lease. */
  async heartbeat(ready: boolean, draining: boolean): Promise<void> {
    await this.client.query(
      `INSERT INTO ledger_nodes (node_id, expires_at, ready, draining)
       VALUES ($1, now() + make_interval(secs => $2), $3, $4)
       ON CONFLICT (node_id) DO UPDATE SET expires_at = EXCLUDED.expires_at,
         ready = EXCLUDED.ready, draining = EXCLUDED.draining`,
      [this.nodeId, this.leaseSeconds, ready, draining],
    );
  }

  /**
   * Extends the leases this node holds at their epochs; the ones it still holds come back (a
   * lease missing from the answer was taken over: it must be let go at once).
   */
  async renew(held: readonly TakenLease[]): Promise<number[]> {
    if (held.length === 0) return [];
    // Rows are locked first, in partition order, as the fence locks them (ledger_fence): in
    // any other order a renewal and a group commit could deadlock.
    const result = await this.client.query<{ partition: number }>(
      `WITH mine AS (
         SELECT l.partition FROM ledger_partition_leases l
         JOIN unnest($3::integer[], $4::bigint[]) AS h(partition, epoch)
           ON l.partition = h.partition AND l.epoch = h.epoch AND l.node_id = $1
         ORDER BY l.partition FOR UPDATE OF l)
       UPDATE ledger_partition_leases SET expires_at = now() + make_interval(secs => $2)
       WHERE partition IN (SELECT partition FROM mine)
       RETURNING partition`,
      [
        this.nodeId,
        this.leaseSeconds,
        held.map((lease) => lease.partition),
        held.map((lease) => lease.epoch),
      ],
    );
    return result.rows.map((row) => row.partition);
  }

  /** The live nodes and every lease, as Postgres sees them now. */
  async look(): Promise<ClusterSight> {
    const nodes = await this.client.query<{ node_id: string; ready: boolean; draining: boolean }>(
      `SELECT node_id, ready, draining FROM ledger_nodes WHERE expires_at > now()
       ORDER BY node_id`,
    );
    const leases = await this.client.query<{
      partition: number;
      node_id: string | null;
      epoch: string | number;
      live: boolean;
    }>(
      `SELECT partition, node_id, epoch, node_id IS NOT NULL AND expires_at > now() AS live
       FROM ledger_partition_leases ORDER BY partition`,
    );
    return {
      nodes: nodes.rows.map((row) => ({
        nodeId: row.node_id,
        ready: row.ready,
        draining: row.draining,
      })),
      leases: leases.rows.map((row) => ({
        partition: row.partition,
        nodeId: row.node_id,
        epoch: bigintOf(row.epoch),
        live: row.live,
      })),
    };
  }

  /**
   * Takes the listed partitions whose lease is free or run out, each at a new epoch. A write
   * under the old epoch still in progress holds its lease share-locked: such a lease is not
   * taken now (a later look takes it, after that write's commit, which its recovery then
   * reads); once taken, no write under the old epoch can land. The ones taken come back.
   */
  async acquire(partitions: readonly number[]): Promise<TakenLease[]> {
    if (partitions.length === 0) return [];
    // In partition order, skipping leases locked now (a write under way, a renewal): they are
    // not free or not run out yet as far as anyone can tell, and the next look tries again.
    const result = await this.client.query<{ partition: number; epoch: string | number }>(
      `WITH free AS (
         SELECT partition FROM ledger_partition_leases
         WHERE partition = ANY($3::integer[]) AND (node_id IS NULL OR expires_at <= now())
         ORDER BY partition FOR UPDATE SKIP LOCKED)
       UPDATE ledger_partition_leases SET node_id = $1, epoch = epoch + 1,
         expires_at = now() + make_interval(secs => $2)
       WHERE partition IN (SELECT partition FROM free)
       RETURNING partition, epoch`,
      [this.nodeId, this.leaseSeconds, partitions],
    );
    return result.rows.map((row) => ({ partition: row.partition, epoch: bigintOf(row.epoch) }));
  }

  /**
   * Lets leases go (after their partitions stopped writing): free at once for another node. A
   * lease already taken over is left alone.
   */
  async release(leases: readonly TakenLease[]): Promise<void> {
    if (leases.length === 0) return;
    await this.client.query(
      `WITH mine AS (
         SELECT l.partition FROM ledger_partition_leases l
         JOIN unnest($2::integer[], $3::bigint[]) AS h(partition, epoch)
           ON l.partition = h.partition AND l.epoch = h.epoch AND l.node_id = $1
         ORDER BY l.partition FOR UPDATE OF l)
       UPDATE ledger_partition_leases SET node_id = NULL, expires_at = '-infinity'
       WHERE partition IN (SELECT partition FROM mine)`,
      [this.nodeId, leases.map((lease) => lease.partition), leases.map((lease) => lease.epoch)],
    );
  }

  /** This node leaves: its row goes (its leases were released, or will run out). */
  async leave(): Promise<void> {
    await this.client.query('DELETE FROM ledger_nodes WHERE node_id = $1', [this.nodeId]);
  }
}
