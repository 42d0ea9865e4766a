// How many partitions a node of a cluster should own, and which to take or let go: a pure
// function of what one look at the lease table saw. Every node runs it on its own sight; Postgres
// decides the races (a lease is taken only if it is free or run out), so two nodes that see the
// cluster differently for a moment can only leave a partition free a little longer, never own it
// twice.

/** What the plan needs of the cluster: live nodes and every partition's lease. */
export interface AssignmentSight {
  readonly nodes: readonly { readonly nodeId: string; readonly draining: boolean }[];
  readonly leases: readonly {
    readonly partition: number;
    readonly nodeId: string | null;
    readonly live: boolean;
  }[];
}

export interface AssignmentPlan {
  /** Partitions this node should own. */
  readonly target: number;
  /** Free (or run out) partitions to take, at most what brings this node to its target. */
  readonly acquire: readonly number[];
  /** Partitions to hand over: this node holds more than its share. */
  readonly release: readonly number[];
}

/**
 * The share of `self` among the live nodes not draining, sorted by id: partitions / nodes each,
 * the remainder one each to the first nodes. A draining node's share is 0; so is the share of a
 * node the sight does not list (it has not joined, or it has run out).
 */
export function shareOf(self: string, sight: AssignmentSight, partitions: number): number {
  const active = sight.nodes
    .filter((node) => !node.draining)
    .map((node) => node.nodeId)
    .sort();
  const rank = active.indexOf(self);
  if (rank < 0) return 0;
  const base = Math.floor(partitions / active.length);
  return base + (rank < partitions % active.length ? 1 : 0);
}

/**
 * `held`: the partitions this node holds by its own account. Takes free partitions up to its
 * share, starting at a place that depends on its id (so nodes starting together mostly reach
 * for different ones); lets the highest go above its share, but only while another node is
 * short of its own share (otherwise nobody would take them, and they would be served by none).
 * `releaseMax` bounds a hand-over step, so a node joining a busy cluster takes its share a few
 * partitions at a time.
 */
export function planAssignment(
  self: string,
  sight: AssignmentSight,
  held: ReadonlySet<number>,
  releaseMax: number,
): AssignmentPlan {
  const partitions = sight.leases.length;
  const target = shareOf(self, sight, partitions);
  const acquire: number[] = [];
  if (held.size < target) {
    const free = sight.leases.filter((lease) => !lease.live && !held.has(lease.partition));
    const start = free.length === 0 ? 0 : startOf(self, free.length);
    for (let index = 0; index < free.length && held.size + acquire.length < target; index += 1) {
      acquire.push((free[(start + index) % free.length] as { partition: number }).partition);
    }
  }
  const release: number[] = [];
  if (held.size > target && someoneShort(self, sight, partitions)) {
    const mine = [...held].sort((a, b) => b - a);
    const excess = Math.min(held.size - target, releaseMax);
    release.push(...mine.slice(0, excess));
  }
  return { target, acquire, release };
}

/** Whether a node other than `self` (active) owns fewer live leases than its share. */
function someoneShort(self: string, sight: AssignmentSight, partitions: number): boolean {
  const owned = new Map<string, number>();
  for (const lease of sight.leases) {
    if (lease.live && lease.nodeId !== null) {
      owned.set(lease.nodeId, (owned.get(lease.nodeId) ?? 0) + 1);
    }
  }
  return sight.nodes.some(
    (node) =>
      node.nodeId !== self &&
      !node.draining &&
      (owned.get(node.nodeId) ?? 0) < shareOf(node.nodeId, sight, partitions),
  );
}

/** A start position in [0, length) from the node's id (FNV-1a): spreads nodes' first picks. */
function startOf(self: string, length: number): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < self.length; index += 1) {
    hash ^= self.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % length;
}
