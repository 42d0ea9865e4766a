// Linux perf's call stacks of the ledger, read back by thread and by what the thread was doing.
//
// V8's own profiler (--cpu-prof) counts a sample as busy whenever its thread is inside
// JavaScript, also while the thread waits for a core: on a box this full that put a syscall that
// wakes another thread (a socket write to Postgres, a postMessage) at several times its cost.
// perf samples a thread only while it runs on a core, and sees the kernel's share and V8's helper
// threads (the parallel scavenges) too. JavaScript frames are named from V8's JIT dump
// (perf-record.ts says why not from --perf-basic-prof's map): `JS:*name file:line:column`.
//
// Input: `perf script -F pid,tid,ip,sym` of a `perf record -g` (frame pointers): each sample is a
// header line `PID/TID` (or `PID TID`) and its frames, leaf first, one per line; a blank line
// ends it.

export interface PerfSample {
  readonly pid: number;
  readonly tid: number;
  /** Leaf first. */
  readonly frames: readonly string[];
}

export function parsePerfScript(text: string): PerfSample[] {
  const samples: PerfSample[] = [];
  for (const block of text.split(/\n[ \t]*\n/)) {
    const lines = block.split('\n').filter((line) => line.trim() !== '');
    const header = lines[0]?.trim().match(/^(\d+)[/ ]+(\d+)\b/);
    if (header === undefined || header === null) continue;
    const frames = lines.slice(1).map((line) => line.trim().replace(/^[0-9a-f]+\s+/, ''));
    samples.push({ pid: Number(header[1]), tid: Number(header[2]), frames });
  }
  return samples;
}

/** What a ledger thread is, from what its stacks hold. */
export type ThreadRole =
  'HTTP thread' | 'shard' | 'V8 helper' | 'other thread' | 'Postgres backend';

/** An activity: its name, and the frames that place a sample in it. */
export interface Activity {
  readonly name: string;
  readonly frame: RegExp;
}

/**
 * What the ledger's threads do, in the order a sample is placed: a sample goes to the first
 * activity any of its frames matches, so a collection inside a request's work counts as the
 * collection, and a request's work on the shard counts there even when the kernel runs it.
 */
export const ledgerActivities: readonly Activity[] = [
  {
    name: 'garbage collection',
    frame: /Scaveng|Evacuat|MarkCompact|Marking|Heap::|Sweeper|ArrayBufferSweeper|MemoryAllocator/,
  },
  {
    name: 'compiling (V8)',
    frame: /v8::internal::compiler::|Compiler::|CompileLazy|OptimizingCompile/,
  },
  { name: 'shard: requests applied', frame: /^JS:.handle file.*\/shard\.[jt]s/ },
  { name: 'shard: requests decoded', frame: /^JS:.decodeRequests / },
  { name: 'shard: commit answered', frame: /^JS:.durable file.*\/shard\.[jt]s/ },
  {
    // A durable floor's commit thread writes its group commits in `writeAll` (floor-commit.ts).
    name: 'shard: group commit written',
    frame: new RegExp(
      String.raw`^JS:.(append|writeOnce) file.*/(journal-store|group-commit)\.[jt]s` +
        String.raw`|^JS:.writeAll file.*/floor-commit\.[jt]s`,
    ),
  },
  { name: 'shard: snapshots', frame: /snapshot-(capture|codec|slicer)\.[jt]s/ },
  { name: 'metrics', frame: /prom-client/ },
  { name: 'Postgres replies read', frame: /pg-protocol|\/pg\/lib\// },
  {
    name: 'HTTP: replies rendered and sent',
    frame: /^JS:.(replied|answer) file.*\/shard-channel\.[jt]s/,
  },
  {
    name: 'HTTP: batches to the shards',
    frame: /^JS:.(atTurnEnd|sendBatch|flush) file.*\/(turn-batch|shard-channel)\.[jt]s/,
  },
  { name: 'HTTP: requests read and routed', frame: /\/src\/(http|router)\// },
  { name: 'thread messages', frame: /MessagePort::OnMessage|PostMessage/ },
];

/**
 * What a Postgres backend does for the ledger's group commits, placed the same way. Postgres as
 * Debian ships it names only its exported functions (the others are `[unknown]`): a sample in
 * an unnamed one counts for the named function above it. Listed first what runs inside the
 * others: the WAL records a row insert makes count as WAL, the compression of a long value as
 * compression.
 */
export const postgresActivities: readonly Activity[] = [
  { name: 'compression (pglz)', frame: /^pglz_/ },
  // glibc giving the top of the heap back once a statement's memory is freed (and taking it again
  // at the next): the kernel's work under `brk`, its TLB shootdowns among it (bench/README.md,
  // "glibc's heap trim in Postgres").
  { name: 'heap given back and taken (brk)', frame: /^(__brk|__sbrk|sbrk)$/ },
  { name: 'WAL flushed at commit', frame: /^(XLogFlush|issue_xlog_fsync)$/ },
  { name: 'WAL records made and inserted', frame: /^(XLogInsert|XLogRecordAssemble)/ },
  { name: 'index entries inserted', frame: /^(btinsert|_bt_doinsert|index_insert)$/ },
  {
    name: 'rows inserted (heap)',
    frame: /^(heap_insert|heap_multi_insert|RelationGetBufferForTuple)$/,
  },
  { name: 'arrays and bytea received', frame: /^(array_recv|bytearecv|ReadArrayBinary)$/ },
  { name: 'executor, rest', frame: /^(standard_ExecutorRun|ExecutorRun)$/ },
  { name: 'socket read and written', frame: /^(secure_read|secure_write|pq_\w+)$/ },
  { name: 'commit, rest', frame: /^(CommitTransactionCommand|finish_xact_command)$/ },
];

/** Samples no activity claimed: the event loop, the kernel's own work, the rest. */
export const otherActivity = 'event loop, kernel, rest';
/** A backend's samples no activity claimed: parsing and planning among them (unnamed). */
export const postgresOtherActivity = 'kernel, unnamed functions, rest';

export function roleOf(pid: number, tid: number, samples: readonly PerfSample[]): ThreadRole {
  if (tid === pid) return 'HTTP thread';
  const anyFrame = (pattern: RegExp) =>
    samples.some((sample) => sample.frames.some((frame) => pattern.test(frame)));
  // A durable floor's commit thread (bench/baselines/floor-commit-worker.ts) stands where the
  // ledger's shard does, behind the hop: read as one.
  if (anyFrame(/\/shards\/shard(-worker)?\.[jt]s|\/floor-commit(-worker)?\.[jt]s/)) return 'shard';
  if (anyFrame(/^JS:/)) return 'other thread';
  return anyFrame(/v8::platform|DefaultWorkerThreadsTaskRunner|Scaveng|Marking|Sweeper/)
    ? 'V8 helper'
    : 'other thread';
}

export function activityOf(
  sample: PerfSample,
  activities = ledgerActivities,
  other = otherActivity,
): string {
  for (const activity of activities) {
    if (sample.frames.some((frame) => activity.frame.test(frame))) return activity.name;
  }
  return other;
}

/**
 * The frame a sample's time is owed to: its leaf's nearest JavaScript function (what called the
 * builtin, the runtime or the kernel it was in), else the leaf itself.
 */
export function ownerOf(sample: PerfSample): string {
  const frame = sample.frames.find((each) => each.startsWith('JS:')) ?? sample.frames[0] ?? '?';
  return frame.replace(/(file:\/\/)?\/\S*?\/(src|node_modules|bench)\//, '$2/');
}

export interface ThreadBreakdown {
  readonly pid: number;
  readonly tid: number;
  readonly role: ThreadRole;
  readonly samples: number;
  /** Its samples by activity (activityOf), then by owner (ownerOf). */
  readonly counts: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

type Ranked = [name: string, samples: number][];

const mostFirst = (counts: Map<string, number>): Ranked =>
  [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));

/** The samples of these threads together, by activity, most first. */
export function activityTotals(threads: readonly ThreadBreakdown[]): Ranked {
  const totals = new Map<string, number>();
  for (const thread of threads) {
    for (const [activity, owners] of thread.counts) {
      let samples = totals.get(activity) ?? 0;
      for (const n of owners.values()) samples += n;
      totals.set(activity, samples);
    }
  }
  return mostFirst(totals);
}

/** The samples of these threads together by owner, most first: all, or one activity's. */
export function ownerTotals(threads: readonly ThreadBreakdown[], within?: string): Ranked {
  const totals = new Map<string, number>();
  for (const thread of threads) {
    for (const [activity, owners] of thread.counts) {
      if (within !== undefined && activity !== within) continue;
      for (const [owner, n] of owners) totals.set(owner, (totals.get(owner) ?? 0) + n);
    }
  }
  return mostFirst(totals);
}

/** What was recorded: the ledger's threads, or the Postgres backends of its database. */
export type Recorded = 'ledger' | 'postgres';

/** Each thread's samples by activity and owner, threads with the most samples first. */
export function breakdown(
  samples: readonly PerfSample[],
  recorded: Recorded = 'ledger',
): ThreadBreakdown[] {
  const [activities, other] =
    recorded === 'ledger'
      ? [ledgerActivities, otherActivity]
      : [postgresActivities, postgresOtherActivity];
  const byThread = new Map<number, PerfSample[]>();
  for (const sample of samples) {
    const list = byThread.get(sample.tid);
    if (list === undefined) byThread.set(sample.tid, [sample]);
    else list.push(sample);
  }
  const threads: ThreadBreakdown[] = [];
  for (const [tid, own] of byThread) {
    const pid = (own[0] as PerfSample).pid;
    const counts = new Map<string, Map<string, number>>();
    for (const sample of own) {
      const activity = activityOf(sample, activities, other);
      let owners = counts.get(activity);
      if (owners === undefined) counts.set(activity, (owners = new Map()));
      const owner = ownerOf(sample);
      owners.set(owner, (owners.get(owner) ?? 0) + 1);
    }
    const role = recorded === 'ledger' ? roleOf(pid, tid, own) : 'Postgres backend';
    threads.push({ pid, tid, role, samples: own.length, counts });
  }
  return threads.sort((a, b) => b.samples - a.samples || a.tid - b.tid);
}
