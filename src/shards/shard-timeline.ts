// A shard thread's timeline events (LEDGER_TIMELINE_FILE): each group commit from its write to the
// end of its completion turn, snapshots, snapshot writes and sweeps. The worker calls these only
// when the timeline is on; they only read the clock and record, so no reply or commit waits.
import { Timeline, timelineNow } from '../observability/timeline.js';
import {
  snapshotBytes,
  type SnapshotConnection,
  type SnapshotWrite,
} from '../persistence/index.js';
import type { SnapshotStats } from './snapshot-slicer.js';

/** Sweeps shorter than this that expired nothing are not recorded: one every 100 ms each. */
const sweepRecordedMsMin = 1;

/** A group commit whose completion turn is still running. */
interface Completing {
  readonly sentMs: number;
  readonly flushedMs: number;
  readonly rows: number;
  replies: number;
}

export class ShardTimeline {
  private completing: Completing | undefined;

  constructor(private readonly timeline: Timeline) {}

  /**
   * A write returned (the group commit's `flushed`, told just before its replies are released
   * in the same turn). The event is recorded once that turn's synchronous work is done, so
   * `releaseMs` is what releasing the replies and telling the durable changes cost the thread.
   */
  flushed(rows: number, durationMs: number): void {
    const flushedMs = timelineNow();
    const completing: Completing = { sentMs: flushedMs - durationMs, flushedMs, rows, replies: 0 };
    this.completing = completing;
    queueMicrotask(() => {
      if (this.completing === completing) this.completing = undefined;
      this.timeline.record('commit', completing.sentMs, {
        ms: durationMs,
        rows,
        releaseMs: timelineNow() - flushedMs,
        replies: completing.replies,
      });
    });
  }

  /** Replies sent to the HTTP thread: counted into the commit completing, if one is. */
  replies(count: number): void {
    if (this.completing !== undefined) this.completing.replies += count;
  }

  snapshot(stats: SnapshotStats & { readonly bytes: number }): void {
    // `ms` is from its first slice to its last; `busyMs` the slices' own time on this thread.
    this.timeline.record('snapshot', timelineNow() - stats.elapsedMs, {
      ms: stats.elapsedMs,
      busyMs: stats.totalMs,
      slices: stats.slices,
      longestSliceMs: stats.longestSliceMs,
      bytes: stats.bytes,
    });
  }

  /** The snapshot connection, with each write's duration recorded (it runs on its own thread). */
  snapshotWrites(connection: SnapshotConnection): SnapshotConnection {
    return {
      writeSnapshot: async (row: SnapshotWrite) => {
        // Read before the write: the blocks' memory is handed over to the writing thread.
        const bytes = snapshotBytes(row);
        const startedMs = timelineNow();
        await connection.writeSnapshot(row);
        this.timeline.record('snapshot-write', startedMs, { ms: timelineNow() - startedMs, bytes });
      },
      close: () => connection.close(),
    };
  }

  /** Runs the timer's sweep and records it when it took long or expired anything. */
  sweep(shard: { sweep(nowMs: number): number }): number {
    const startedMs = timelineNow();
    const expired = shard.sweep(Date.now());
    const ms = timelineNow() - startedMs;
    if (expired > 0 || ms >= sweepRecordedMsMin) {
      this.timeline.record('sweep', startedMs, { ms, expired });
    }
    return expired;
  }

  stop(): void {
    this.timeline.stop();
  }
}
