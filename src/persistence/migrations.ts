// Schema migrations, applied in order at start under an advisory lock so two starting ledgers
// never race. Each migration runs once; the applied ones are recorded in ledger_migrations.
import type pg from 'pg';

const migrationLockId = 0x4c454447; // 'LEDG'

export const migrations: readonly { readonly id: number; readonly sql: string }[] = [
  {
    id: 1,
    sql: `
      CREATE TABLE ledger_meta (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        partitions integer NOT NULL CHECK (partitions > 0),
        hash_version integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      -- The write-ahead log. (partition, lsn) is the key, and it also fences: two writers of one
      -- partition cannot both append the same lsn, so the second one fails and reloads.
      CREATE TABLE ledger_wal (
        partition integer NOT NULL,
        lsn bigint NOT NULL CHECK (lsn > 0),
        payload bytea NOT NULL,
        PRIMARY KEY (partition, lsn)
      );
      CREATE TABLE ledger_snapshots (
        partition integer NOT NULL,
        lsn bigint NOT NULL CHECK (lsn > 0),
        payload bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (partition, lsn)
      );`,
  },
  {
    id: 2,
    sql: `
      -- The event publisher's progress (src/events): every journal record of the partition up
      -- to lsn has been acknowledged by NATS JetStream. No row: nothing published yet.
      CREATE TABLE ledger_event_cursors (
        partition integer PRIMARY KEY,
        lsn bigint NOT NULL CHECK (lsn >= 0)
      );`,
  },
  {
    id: 3,
    sql: `
      -- Counts the claims of the journal (src/persistence/journal-owner.ts): a ledger that lost
      -- its lock and gets it back finds its own epoch here only if no other ledger owned the
      -- journal in between, which is when its memory is still the journal's truth.
      CREATE TABLE ledger_owner (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        epoch bigint NOT NULL CHECK (epoch > 0)
      );`,
  },
  {
    id: 4,
    sql: `
      -- Written by "ledger migrate-partitions" (hash v1 -> v2). Reservation ids embed the
      -- partition they were minted in; a hold whose stock key moved keeps working through its
      -- route until the ledger has forgotten it (until_ms, epoch ms), then the route is deleted.
      CREATE TABLE ledger_reservation_routes (
        reservation_id text PRIMARY KEY,
        partition integer NOT NULL CHECK (partition >= 0),
        until_ms bigint NOT NULL
      );
      -- The WAL of an older hash version, kept rather than destroyed: the history, as written.
      CREATE TABLE ledger_wal_archive (
        hash_version integer NOT NULL,
        partition integer NOT NULL,
        lsn bigint NOT NULL,
        payload bytea NOT NULL,
        PRIMARY KEY (hash_version, partition, lsn)
      );`,
  },
  {
    id: 5,
    sql: `
      -- The movement history (GET /v1/stock/:product/:warehouse/movements): one row per change
      -- of a stock key, written in the same statement as its WAL row (journal-store.ts), so a
      -- group commit stays one atomic write. payload is the record's bytes (rendered at read
      -- time); the counts after the change are columns, since a hold's records do not carry
      -- them. Partitioned by UTC day so that retention drops whole tables (history-store.ts);
      -- the default partition only catches a row whose day has no table (a clock far off).
      CREATE TABLE ledger_movements (
        product_id text NOT NULL,
        warehouse_id text NOT NULL,
        version bigint NOT NULL CHECK (version > 0),
        at timestamptz NOT NULL,
        on_hand bigint NOT NULL,
        reserved bigint NOT NULL,
        incoming bigint NOT NULL,
        subject text,
        payload bytea NOT NULL
      ) PARTITION BY RANGE (at);
      CREATE INDEX ledger_movements_key ON ledger_movements
        (product_id, warehouse_id, version DESC);
      CREATE TABLE ledger_movements_default PARTITION OF ledger_movements DEFAULT;`,
  },
  {
    id: 6,
    sql: `
      -- A cluster's nodes (LEDGER_CLUSTER, src/cluster): each renews its row while it lives.
      -- Times are Postgres's clock, the one clock every node shares.
      CREATE TABLE ledger_nodes (
        node_id text PRIMARY KEY,
        started_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        ready boolean NOT NULL DEFAULT false,
        draining boolean NOT NULL DEFAULT false
      );
      -- Who owns each partition: a lease with an expiry and a fencing epoch. Every take-over
      -- moves the epoch, and every journal write of a node in a cluster is fenced by it (below),
      -- so a node that lost a lease (paused, cut off) can never write that partition again.
      CREATE TABLE ledger_partition_leases (
        partition integer PRIMARY KEY CHECK (partition >= 0),
        node_id text,
        epoch bigint NOT NULL DEFAULT 0,
        expires_at timestamptz NOT NULL DEFAULT '-infinity'
      );
      -- Called inside a group commit's statement: share-locks the leases the write relies on,
      -- so a take-over waits for the write's commit (and then recovers it), or the write sees
      -- the take-over and fails whole. LDG01 names the partitions no longer held.
      CREATE FUNCTION ledger_fence(node text, parts integer[], epochs bigint[]) RETURNS integer
      LANGUAGE plpgsql AS $fence$
      DECLARE
        held integer[];
        lost integer[];
      BEGIN
        -- In partition order, as every statement that locks several leases does: two that
        -- lock them in different orders could deadlock (and one would fail after a second).
        SELECT coalesce(array_agg(locked.partition), '{}') INTO held FROM (
          SELECT l.partition FROM ledger_partition_leases l
          JOIN unnest(parts, epochs) AS f(partition, epoch)
            ON l.partition = f.partition AND l.epoch = f.epoch AND l.node_id = node
          ORDER BY l.partition
          FOR SHARE OF l) AS locked;
        IF cardinality(held) <> cardinality(parts) THEN
          SELECT coalesce(array_agg(p), '{}') INTO lost FROM unnest(parts) AS p
            WHERE NOT p = ANY(held);
          RAISE EXCEPTION 'partition leases lost: %', array_to_string(lost, ',')
            USING ERRCODE = 'LDG01', DETAIL = array_to_string(lost, ',');
        END IF;
        RETURN cardinality(held);
      END
      $fence$;`,
  },
  {
    id: 7,
    sql: `
      -- A cluster's periodic work (the history's days, the WAL's trim): when each task was last
      -- claimed and by which node, on Postgres's clock, so that one node does it per interval
      -- rather than every node.
      CREATE TABLE ledger_maintenance (
        task text PRIMARY KEY,
        claimed_at timestamptz NOT NULL,
        node_id text NOT NULL
      );`,
  },
  {
    id: 8,
    sql: `
      -- A large snapshot is written in parts, one statement each, so its bytes never reach
      -- Postgres's WAL in one burst that every group commit behind it waits for
      -- (JournalStore.writeSnapshot). Its ledger_snapshots row, written last, holds no payload
      -- and says how many parts it has; a row with parts 0 holds its payload itself.
      ALTER TABLE ledger_snapshots ADD COLUMN parts integer NOT NULL DEFAULT 0 CHECK (parts >= 0);
      CREATE TABLE ledger_snapshot_parts (
        partition integer NOT NULL,
        lsn bigint NOT NULL CHECK (lsn > 0),
        part integer NOT NULL CHECK (part >= 0),
        payload bytea NOT NULL,
        PRIMARY KEY (partition, lsn, part)
      );`,
  },
  {
    id: 9,
    sql: `
      -- A group commit writes one movement row per stock key it changed (movement-rows.ts): the
      -- row's columns are its first movement, later (NULL for a row of one) packs the key's
      -- movements after it in the same commit, later_count says how many. A row's version is
      -- its first movement's.
      ALTER TABLE ledger_movements ADD COLUMN later bytea,
        ADD COLUMN later_count integer NOT NULL DEFAULT 0 CHECK (later_count >= 0);`,
  },
];

export async function migrate(client: pg.ClientBase): Promise<number[]> {
  await client.query('SELECT pg_advisory_lock($1)', [migrationLockId]);
  try {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ledger_migrations (
         id integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = await client.query<{ id: number }>('SELECT id FROM ledger_migrations');
    const applied = new Set(done.rows.map((row) => Number(row.id)));
    const ran: number[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.id)) continue;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO ledger_migrations (id) VALUES ($1)', [migration.id]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
      ran.push(migration.id);
    }
    return ran;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [migrationLockId]);
  }
}
