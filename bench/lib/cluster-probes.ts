// The cluster bench's two probes that need every answer's own record, so they drive their own
// closed-loop virtual users from the bench's main thread (undici, keep-alive, one request in
// flight per connection) rather than the load generator's threads, which keep only histograms:
// - the hop: the same reserve sent to its partition's owner and to another node (which forwards
//   it over NATS), interleaved at low load, so the difference is the hop and not queueing;
// - the failover: a steady keyed reserve load on every partition, one node killed with SIGKILL,
//   and for each partition it owned the time from the last 200 before the kill to the first 200
//   after; then every acknowledged reservation read back through a survivor.
import { randomBytes } from 'node:crypto';
import { Client, Pool } from 'undici';
import { partitionOf } from '../../src/router/partition-hash.js';
import type { ClusterBenchOptions } from './cluster-args.js';
import type { ClusterNodeProcess, RunningCluster } from './cluster-nodes.js';
import { call } from './ledger-api.js';
import { summarize, type LatencySummary } from './load-driver.js';
import { newHistogram, type UnknownRequest } from './load-worker.js';
import { emptyTallies, stockKeyAt, type KeyTallies, type Scenario } from './scenarios.js';
import { checkState, type StateCheck } from './state-check.js';

const requestTimeoutMs = 10_000;
const pauseAfterErrorMs = 50;
/** Hop pairs sent before measuring (connections opened, code warmed up). */
const hopWarmupPairs = 200;
/** SKUs whose owner the hop probe learns (x-served-by of a stock read). */
const hopSkusMax = 300;
/** How long the failover load waits for every partition of the killed node to answer 200. */
const failoverCapMs = 60_000;
/** Load kept on after the last partition came back, to see that it stays back. */
const afterRecoveryMs = 3_000;
/** Reads in flight while looking every acknowledged reservation up. */
const lookupConcurrency = 16;
/** How long a lookup answered 503 is asked again before it counts as not found. */
const lookupRetryMs = 30_000;
/** Missing acknowledgements listed in the result (the count is always exact). */
const missingListed = 20;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

interface Reply {
  readonly status: number;
  /** "200", "503 unavailable", "503 unavailable no retry-after" (as the load generator's). */
  readonly label: string;
  readonly servedBy: string | undefined;
  readonly reservationId: string | undefined;
  readonly text: string;
}

function clientFor(url: string): Client {
  return new Client(url, {
    pipelining: 1,
    headersTimeout: requestTimeoutMs,
    bodyTimeout: requestTimeoutMs,
    keepAliveTimeout: 60_000,
  });
}

function reserveBody(keyIndex: number, idempotencyKey: string): string {
  const key = stockKeyAt('many-sku', keyIndex);
  return JSON.stringify({
    product_id: key.productId,
    warehouse_id: key.warehouseId,
    quantity: 1,
    idempotency_key: idempotencyKey,
    ttl_seconds: 3600,
  });
}

async function postReserve(client: Client, body: string): Promise<Reply> {
  const response = await client.request({
    path: '/v1/reserve',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const text = await response.body.text();
  const header = (name: string): string | undefined => {
    const value = response.headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  let parsed: { reservation_id?: unknown; error?: { code?: unknown } } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch (error) {
    void error;
  }
  const code = typeof parsed.error?.code === 'string' ? ` ${parsed.error.code}` : '';
  const retry = response.statusCode === 503 && header('retry-after') === undefined;
  return {
    status: response.statusCode,
    label: `${response.statusCode}${response.statusCode === 200 ? '' : code}${retry ? ' no retry-after' : ''}`,
    servedBy: header('x-served-by'),
    reservationId: typeof parsed.reservation_id === 'string' ? parsed.reservation_id : undefined,
    text,
  };
}

/** Owner node id of the first SKUs, from a stock read's x-served-by. */
async function ownersOf(baseUrl: string, skus: number): Promise<Map<string, number[]>> {
  const owned = new Map<string, number[]>();
  for (let index = 0; index < Math.min(skus, hopSkusMax); index += 1) {
    const key = stockKeyAt('many-sku', index);
    const response = await fetch(`${baseUrl}/v1/stock/${key.productId}/${key.warehouseId}`);
    await response.arrayBuffer();
    const owner = response.headers.get('x-served-by');
    if (response.status !== 200 || owner === null) {
      throw new Error(`reading ${key.productId} answered ${response.status}, owner ${owner}`);
    }
    owned.set(owner, [...(owned.get(owner) ?? []), index]);
  }
  return owned;
}

export interface HopResult {
  readonly nodes: number;
  readonly connections: number;
  /** Of the SKUs probed, how many each node owns. */
  readonly skusByOwner: Record<string, number>;
  readonly direct: LatencySummary;
  readonly forwarded: LatencySummary;
  /** Answers not 200, or 200 naming another owner than the one learnt (ownership moved). */
  readonly unexpected: Record<string, number>;
}

/** The same reserve, to the owner and through another node, interleaved in random order. */
export async function measureHop(
  cluster: RunningCluster,
  options: ClusterBenchOptions,
): Promise<HopResult> {
  const { nodes } = cluster;
  const owned = await ownersOf((nodes[0] as ClusterNodeProcess).child.baseUrl, options.skus);
  const owners = [...owned.keys()];
  const direct = newHistogram();
  const forwarded = newHistogram();
  const unexpected: Record<string, number> = {};
  const prefix = `hop-${randomBytes(4).toString('hex')}-`;
  let pairs = 0;
  const total = hopWarmupPairs + options.hopRequests;
  const user = async (user: number): Promise<void> => {
    const clients = new Map(nodes.map((node) => [node.id, clientFor(node.child.baseUrl)]));
    let sent = 0;
    const one = async (via: string, owner: string, measured: boolean, into: typeof direct) => {
      sent += 1;
      const body = reserveBody(
        pick(owned.get(owner) ?? []),
        `${prefix}${user}-${String(sent).padStart(8, '0')}`,
      );
      const started = performance.now();
      const reply = await postReserve(clients.get(via) as Client, body);
      const micros = Math.max(1, Math.round((performance.now() - started) * 1000));
      if (reply.status !== 200 || reply.servedBy !== owner) {
        const label = `${reply.label} served by ${reply.servedBy === owner ? 'the owner' : reply.servedBy}`;
        unexpected[label] = (unexpected[label] ?? 0) + 1;
      } else if (measured) into.recordValue(micros);
    };
    try {
      while (pairs < total) {
        pairs += 1;
        const measured = pairs > hopWarmupPairs;
        const owner = pick(owners);
        const other = pick(nodes.filter((node) => node.id !== owner)).id;
        if (Math.random() < 0.5) {
          await one(owner, owner, measured, direct);
          await one(other, owner, measured, forwarded);
        } else {
          await one(other, owner, measured, forwarded);
          await one(owner, owner, measured, direct);
        }
      }
    } finally {
      await Promise.all([...clients.values()].map((client) => client.close()));
    }
  };
  await Promise.all(Array.from({ length: options.hopConnections }, (_, index) => user(index)));
  return {
    nodes: nodes.length,
    connections: options.hopConnections,
    skusByOwner: Object.fromEntries([...owned].map(([owner, skus]) => [owner, skus.length])),
    direct: summarize(direct),
    forwarded: summarize(forwarded),
    unexpected,
  };
}

/** One answered (or unanswered: status 0) reserve of the failover load. */
interface Sample {
  readonly keyIndex: number;
  readonly partition: number;
  readonly sentMs: number;
  readonly doneMs: number;
  readonly status: number;
  readonly label: string;
  readonly servedBy: string | undefined;
  readonly reservationId: string | undefined;
  /** The node the request was sent to. */
  readonly via: string;
}

class FailoverLoad {
  readonly samples: Sample[] = [];
  readonly unknown: UnknownRequest[] = [];
  readonly errors: Record<string, number> = {};
  /** The first request and answer of each kind that was not 200. */
  readonly examples: Record<string, string> = {};
  running = true;
  /** The node about to be killed (set just before the kill). */
  killing: string | undefined;
  private readonly prefix = `fo-${randomBytes(4).toString('hex')}-`;

  constructor(
    private readonly nodes: readonly ClusterNodeProcess[],
    private readonly skus: number,
    private readonly partitions: number,
  ) {}

  /** A closed-loop user: starts on node `user % nodes`, moves to a live node on an error. */
  async user(user: number): Promise<void> {
    const clients = new Map(this.nodes.map((node) => [node.id, clientFor(node.child.baseUrl)]));
    let via = this.nodes[user % this.nodes.length] as ClusterNodeProcess;
    let sent = 0;
    try {
      while (this.running) {
        if (!via.alive) via = pick(this.nodes.filter((node) => node.alive));
        sent += 1;
        const keyIndex = Math.floor(Math.random() * this.skus);
        const body = reserveBody(
          keyIndex,
          `${this.prefix}${user}-${String(sent).padStart(8, '0')}`,
        );
        const partition = partitionOf(stockKeyAt('many-sku', keyIndex).productId, this.partitions);
        const sentMs = performance.now();
        try {
          const { text, ...reply } = await postReserve(clients.get(via.id) as Client, body);
          const doneMs = performance.now();
          this.samples.push({ keyIndex, partition, sentMs, doneMs, via: via.id, ...reply });
          if (reply.status !== 200) {
            // A 503 `unavailable` leaves it unknown whether the reserve applied: replayed later.
            this.unknown.push({
              operation: 'reserve',
              keyIndexes: [keyIndex],
              body,
              error: reply.label,
            });
            this.examples[reply.label] ??= `via ${via.id}: ${body} -> ${text.slice(0, 300)}`;
          }
        } catch (error) {
          const message =
            error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          this.errors[message] = (this.errors[message] ?? 0) + 1;
          this.unknown.push({ operation: 'reserve', keyIndexes: [keyIndex], body, error: message });
          const label = `no answer (${via.id === this.killing ? 'killed node' : 'live node'})`;
          this.samples.push({
            keyIndex,
            partition,
            sentMs,
            doneMs: performance.now(),
            status: 0,
            label,
            servedBy: undefined,
            reservationId: undefined,
            via: via.id,
          });
          via = pick(this.nodes.filter((node) => node.alive && node !== via));
          await sleep(pauseAfterErrorMs);
        }
      }
    } finally {
      await Promise.all([...clients.values()].map((client) => client.destroy()));
    }
  }
}

export interface PartitionFailover {
  readonly partition: number;
  readonly lastAckBeforeKillMs: number;
  readonly firstAckAfterKillMs: number;
  /** Last 200 before the kill → first 200 after it. */
  readonly failoverMs: number;
  /** The kill → the first 200 after it. */
  readonly sinceKillMs: number;
  readonly takenBy: string | undefined;
  /** How long the first 200 after the kill took, sent to answered. */
  readonly firstAckTookMs: number;
  /** Answers not 200 between the kill and the first 200, by the node asked. */
  readonly refusedVia: Record<string, number>;
  /** The kill → the last of them answered, and how long that one took. */
  readonly lastRefusedMs: number | null;
  readonly lastRefusalTookMs: number | null;
}

/** The refusals a partition got between the kill and its first 200 after it. */
function refusalsOf(samples: readonly Sample[], partition: number, killMs: number, backMs: number) {
  const refused = samples.filter(
    (s) => s.partition === partition && s.status !== 200 && s.doneMs > killMs && s.doneMs < backMs,
  );
  const refusedVia: Record<string, number> = {};
  for (const sample of refused) refusedVia[sample.via] = (refusedVia[sample.via] ?? 0) + 1;
  const last = refused.at(-1);
  return {
    refusedVia,
    lastRefusedMs: last === undefined ? null : Math.round(last.doneMs - killMs),
    lastRefusalTookMs: last === undefined ? null : Math.round(last.doneMs - last.sentMs),
  };
}

export interface FailoverResult {
  readonly victim: string;
  readonly division: Record<string, number>;
  readonly partitionsLoaded: number;
  readonly victimPartitions: number;
  readonly recovered: number;
  readonly perPartition: PartitionFailover[];
  readonly failoverMs: LatencyLike;
  readonly sinceKillMs: LatencyLike;
  /** Mean interval between 200s on one partition before the kill: the measurement's grain. */
  readonly grainMs: number;
  readonly answersBefore: Record<string, number>;
  /** Answers between the kill and the last partition's first 200: its partitions', others'. */
  readonly answersDuring: Record<string, number>;
  readonly othersAnswersDuring: Record<string, number>;
  /** On partitions without a 200 before the kill (owner unknown; mostly the killed node's). */
  readonly unknownOwnerAnswersDuring: Record<string, number>;
  /** Each answer not 200 after the last partition came back. */
  readonly refusedAfter: readonly Record<string, unknown>[];
  /** The nodes' cluster log lines from 2 s before the kill on (time relative to the kill). */
  readonly clusterLog: readonly string[];
  /** Each answer neither 200 nor lost on a partition the killed node did not own, meanwhile. */
  readonly othersRefused: readonly Record<string, unknown>[];
  readonly answersAfter: Record<string, number>;
  /** Longest stretch without a 200 on a partition a survivor owned, before and during. */
  readonly othersLongestGapBeforeMs: number;
  readonly othersLongestGapDuringMs: number;
  /** 200s per second, from the start of the load; the kill is in second `killSecond`. */
  readonly acksPerSecond: number[];
  readonly killSecond: number;
  readonly acknowledged: number;
  readonly lookedUp: number;
  readonly lost: number;
  readonly lostListed: readonly Record<string, unknown>[];
  readonly acknowledgedByVictim: number;
  /**
   * What the requests without a 200 (no answer, or a 503) turned out to be, by their first
   * answer: replayed with the same idempotency key through a survivor, "had applied" if the
   * replay answered the first outcome (idempotent-replayed), "applied by the replay" if it was
   * new, or the replay's status.
   */
  readonly replays: Record<string, Record<string, number>>;
  readonly stateCheck: StateCheck;
  readonly errors: Record<string, number>;
  readonly examples: Record<string, string>;
}

export interface LatencyLike {
  readonly min: number;
  readonly p50: number;
  readonly max: number;
}

function spread(values: readonly number[]): LatencyLike {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    min: sorted[0] ?? Number.NaN,
    p50: sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

function countBy(samples: readonly Sample[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const sample of samples) counts[sample.label] = (counts[sample.label] ?? 0) + 1;
  return counts;
}

/**
 * Runs the keyed load on every node, kills `victim` after `killAfterSeconds`, waits for its
 * partitions to answer 200 again (or the cap), then checks every acknowledgement.
 */
export async function measureFailover(
  cluster: RunningCluster,
  options: ClusterBenchOptions,
  scenario: Scenario,
  victim: ClusterNodeProcess,
  out: (line: string) => void,
): Promise<FailoverResult> {
  const load = new FailoverLoad(cluster.nodes, options.skus, options.partitions);
  const startMs = performance.now();
  const users = Array.from({ length: options.failoverConnections }, (_, index) => load.user(index));
  await sleep(options.killAfterSeconds * 1000);
  load.killing = victim.id;
  const killMs = performance.now();
  await victim.child.kill();
  victim.alive = false;
  out(
    `    killed ${victim.id} (SIGKILL, pid ${victim.child.pid}) after ${options.killAfterSeconds} s`,
  );
  const owners = lastOwners(load.samples, killMs);
  const mine = [...owners].filter(([, owner]) => owner === victim.id).map(([p]) => p);
  const backAt = new Map<number, Sample>();
  const capMs = killMs + failoverCapMs;
  let scanned = 0;
  while (backAt.size < mine.length && performance.now() < capMs) {
    await sleep(100);
    for (; scanned < load.samples.length; scanned += 1) {
      const sample = load.samples[scanned] as Sample;
      const survivor = sample.servedBy !== victim.id;
      if (
        sample.status === 200 &&
        sample.doneMs > killMs &&
        survivor &&
        !backAt.has(sample.partition)
      ) {
        backAt.set(sample.partition, sample);
      }
    }
    for (const partition of [...backAt.keys()])
      if (!mine.includes(partition)) backAt.delete(partition);
  }
  await sleep(afterRecoveryMs);
  load.running = false;
  await Promise.all(users);
  return analyse({ load, cluster, scenario, victim, startMs, killMs, mine, owners, backAt, out });
}

/** The node that answered each partition's last 200 before `killMs`. */
function lastOwners(samples: readonly Sample[], killMs: number): Map<number, string> {
  const owners = new Map<number, string>();
  for (const sample of samples) {
    if (sample.status === 200 && sample.doneMs < killMs && sample.servedBy !== undefined) {
      owners.set(sample.partition, sample.servedBy);
    }
  }
  return owners;
}

interface Analysis {
  readonly load: FailoverLoad;
  readonly cluster: RunningCluster;
  readonly scenario: Scenario;
  readonly victim: ClusterNodeProcess;
  readonly startMs: number;
  readonly killMs: number;
  readonly mine: readonly number[];
  /** Who answered each partition's last 200 before the kill. */
  readonly owners: ReadonlyMap<number, string>;
  readonly backAt: ReadonlyMap<number, Sample>;
  readonly out: (line: string) => void;
}

async function analyse(a: Analysis): Promise<FailoverResult> {
  const { load, killMs, mine, owners, backAt, victim } = a;
  const acks = load.samples.filter((sample) => sample.status === 200);
  const perPartition: PartitionFailover[] = [];
  for (const partition of mine) {
    const back = backAt.get(partition);
    const before = acks.filter((s) => s.partition === partition && s.doneMs < killMs).at(-1);
    if (back === undefined || before === undefined) continue;
    perPartition.push({
      partition,
      lastAckBeforeKillMs: killMs - before.doneMs,
      firstAckAfterKillMs: back.doneMs - killMs,
      failoverMs: back.doneMs - before.doneMs,
      sinceKillMs: back.doneMs - killMs,
      takenBy: back.servedBy,
      firstAckTookMs: Math.round(back.doneMs - back.sentMs),
      ...refusalsOf(load.samples, partition, killMs, back.doneMs),
    });
  }
  const recoveredMs = Math.max(killMs, ...perPartition.map((p) => killMs + p.sinceKillMs));
  const victims = new Set(mine);
  // A partition with no 200 before the kill has no known owner: in neither group.
  const others = new Set([...owners].filter(([, owner]) => owner !== victim.id).map(([p]) => p));
  const unowned = (partition: number): boolean => !victims.has(partition) && !others.has(partition);
  const during = load.samples.filter((s) => s.doneMs >= killMs && s.doneMs <= recoveredMs);
  const gaps = othersLongestGaps(acks, others, a.startMs + 1000, killMs, recoveredMs);
  const loadedBefore = new Set(acks.filter((s) => s.doneMs < killMs).map((s) => s.partition));
  const beforeSeconds = (killMs - a.startMs - 1000) / 1000;
  const acksBefore = acks.filter((s) => s.doneMs < killMs && s.doneMs > a.startMs + 1000).length;
  const acksPerSecond: number[] = [];
  for (const sample of acks) {
    const second = Math.floor((sample.doneMs - a.startMs) / 1000);
    acksPerSecond[second] = (acksPerSecond[second] ?? 0) + 1;
  }
  const survivor = a.cluster.nodes.find((node) => node.alive) as ClusterNodeProcess;
  a.out(`    reading ${acks.length} acknowledged reservations back through ${survivor.id}`);
  const lookup = await lookUpEvery(survivor.child.baseUrl, acks, victim.id, killMs);
  const tallies = emptyTallies(a.scenario.keyCount);
  for (const sample of acks) {
    tallies.reserved[sample.keyIndex] = (tallies.reserved[sample.keyIndex] ?? 0) + 1;
  }
  const replays = await replayUnknown(survivor.child.baseUrl, load.unknown, tallies);
  const stateCheck = await checkState(survivor.child.baseUrl, a.scenario, tallies, []);
  /** A refused sample, as the report lists it. */
  const refusedRow = (s: (typeof load.samples)[number]) => ({
    partition: s.partition,
    owner: owners.get(s.partition),
    label: s.label,
    sentFromKillMs: Math.round(s.sentMs - killMs),
    tookMs: Math.round(s.doneMs - s.sentMs),
  });
  return {
    victim: victim.id,
    division: a.cluster.division,
    partitionsLoaded: loadedBefore.size,
    victimPartitions: mine.length,
    recovered: perPartition.length,
    perPartition,
    failoverMs: spread(perPartition.map((p) => p.failoverMs)),
    sinceKillMs: spread(perPartition.map((p) => p.sinceKillMs)),
    grainMs:
      loadedBefore.size === 0
        ? Number.NaN
        : (beforeSeconds * 1000 * loadedBefore.size) / acksBefore,
    answersBefore: countBy(load.samples.filter((s) => s.doneMs < killMs)),
    answersDuring: countBy(during.filter((s) => victims.has(s.partition))),
    othersAnswersDuring: countBy(during.filter((s) => others.has(s.partition))),
    unknownOwnerAnswersDuring: countBy(during.filter((s) => unowned(s.partition))),
    refusedAfter: load.samples
      .filter((s) => s.doneMs > recoveredMs && s.status !== 200)
      .map(refusedRow),
    clusterLog: clusterLog(a.cluster, killMs),
    othersRefused: during
      .filter((s) => others.has(s.partition) && s.status !== 200 && s.status !== 0)
      .map(refusedRow),
    answersAfter: countBy(load.samples.filter((s) => s.doneMs > recoveredMs)),
    othersLongestGapBeforeMs: gaps.before,
    othersLongestGapDuringMs: gaps.during,
    acksPerSecond: Array.from(acksPerSecond, (count) => count ?? 0),
    killSecond: Math.floor((killMs - a.startMs) / 1000),
    acknowledged: acks.length,
    lookedUp: lookup.lookedUp,
    lost: lookup.missing.length,
    lostListed: lookup.missing.slice(0, missingListed),
    acknowledgedByVictim: acks.filter((s) => s.servedBy === victim.id).length,
    replays,
    stateCheck,
    errors: load.errors,
    examples: load.examples,
  };
}

/** Cluster log lines of every node from 2 s before the kill, "+ms node message {fields}". */
function clusterLog(cluster: RunningCluster, killMs: number): string[] {
  const killedAt = Date.now() - (performance.now() - killMs);
  const lines: { at: number; text: string }[] = [];
  for (const node of cluster.nodes) {
    for (const line of node.clusterLines) {
      try {
        const entry = JSON.parse(line) as Record<string, unknown> & { time?: number; msg?: string };
        const at = typeof entry.time === 'number' ? entry.time - killedAt : Number.NaN;
        if (!(at > -2000)) continue;
        const { partitions, recovery_ms: recovery, err } = entry;
        const why =
          typeof err === 'object' && err !== null ? (err as { message?: unknown }).message : '';
        const what = Array.isArray(partitions) ? `${partitions.length} partitions` : partitions;
        lines.push({
          at,
          text: `${Math.round(at)} ms ${node.id}: ${entry.msg} ${what ?? ''} ${recovery ?? ''} ${String(why ?? '')}`,
        });
      } catch (error) {
        void error;
      }
    }
  }
  return lines.sort((x, y) => x.at - y.at).map((line) => line.text.trim());
}

/** Replays every request without a 200 (same body); counts the 200s into `tallies`. */
async function replayUnknown(
  baseUrl: string,
  unknown: readonly UnknownRequest[],
  tallies: KeyTallies,
): Promise<Record<string, Record<string, number>>> {
  const outcomes: Record<string, Record<string, number>> = {};
  for (const request of unknown) {
    const answer = await call(baseUrl, '/v1/reserve', request.body);
    const outcome =
      answer.status !== 200
        ? `replay answered ${answer.status}`
        : answer.replayed
          ? 'had applied'
          : 'applied by the replay';
    const byLabel = (outcomes[request.error] ??= {});
    byLabel[outcome] = (byLabel[outcome] ?? 0) + 1;
    if (answer.status !== 200) continue;
    for (const keyIndex of request.keyIndexes) {
      tallies.reserved[keyIndex] = (tallies.reserved[keyIndex] ?? 0) + 1;
    }
  }
  return outcomes;
}

/** Longest stretch without a 200 on a partition in `included`: before the kill, and during. */
function othersLongestGaps(
  acks: readonly Sample[],
  included: ReadonlySet<number>,
  fromMs: number,
  killMs: number,
  recoveredMs: number,
): { before: number; during: number } {
  const last = new Map<number, number>();
  let before = 0;
  let during = 0;
  for (const sample of [...acks].sort((x, y) => x.doneMs - y.doneMs)) {
    if (!included.has(sample.partition)) continue;
    const previous = last.get(sample.partition);
    last.set(sample.partition, sample.doneMs);
    if (previous === undefined || previous < fromMs) continue;
    const gap = sample.doneMs - previous;
    if (sample.doneMs < killMs) before = Math.max(before, gap);
    else if (previous <= recoveredMs) during = Math.max(during, gap);
  }
  return { before, during };
}

/**
 * GET /v1/reservations/:id; a 503 (a partition moving) is asked again, for up to
 * `lookupRetryMs`: only a definite answer counts.
 */
async function lookUp(
  pool: Pool,
  id: string | undefined,
): Promise<{ status: number; text: string }> {
  const deadline = performance.now() + lookupRetryMs;
  for (;;) {
    const response = await pool.request({ path: `/v1/reservations/${id}`, method: 'GET' });
    const text = await response.body.text();
    if (response.statusCode !== 503 || performance.now() > deadline) {
      return { status: response.statusCode, text };
    }
    await sleep(200);
  }
}

/** GET /v1/reservations/:id of every acknowledged reserve; the ones not found. */
async function lookUpEvery(
  baseUrl: string,
  acks: readonly Sample[],
  victim: string,
  killMs: number,
): Promise<{ lookedUp: number; missing: Record<string, unknown>[] }> {
  const pool = new Pool(baseUrl, { connections: lookupConcurrency, pipelining: 1 });
  const missing: Record<string, unknown>[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < acks.length) {
      const sample = acks[next] as Sample;
      next += 1;
      const { status, text } = await lookUp(pool, sample.reservationId);
      const key = stockKeyAt('many-sku', sample.keyIndex);
      const found =
        status === 200 &&
        (JSON.parse(text) as { product_id?: unknown }).product_id === key.productId;
      if (found) continue;
      missing.push({
        reservation_id: sample.reservationId,
        product_id: key.productId,
        partition: sample.partition,
        served_by: sample.servedBy,
        served_by_victim: sample.servedBy === victim,
        answered_ms_from_kill: Math.round(sample.doneMs - killMs),
        lookup_status: status,
        lookup_body: text.slice(0, 200),
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: lookupConcurrency }, lane));
  } finally {
    await pool.close();
  }
  return { lookedUp: acks.length, missing };
}
