// The event publisher: follows the durable journal as an outbox and publishes one event per
// record, many in flight, and moves each partition's cursor only over an unbroken run of
// acknowledged events. Store, sink and clock are parameters, so tests can fail them at will.
//
// Why order per partition survives failures: a failure (timeout, error, lost connection) ends the
// sink's session, which drops whatever it had not sent, and the next session starts again from
// the cursors. Each session publishes every partition in lsn order over one connection, which
// JetStream stores in order; so the first copy of each event lands in lsn order, and later
// copies are duplicates that the stream drops (Nats-Msg-Id).
import { assert, checkRecord, fail } from '../actors/index.js';
import { decodeRecord } from '../persistence/index.js';
import { eventId, eventsOf, type OutboundEvent } from './event-mapping.js';
import type { OutboxRow, OutboxStore, ReadPosition } from './outbox-store.js';
import type { PublisherStats } from './protocol.js';
import { Signal } from './signal.js';

export interface PublishAck {
  readonly duplicate: boolean;
}

export interface EventSink {
  /** True while a session is open: publish() may be called. */
  readonly connected: boolean;
  /** Resolves when JetStream acknowledges the event; rejects on timeout, error or disconnect. */
  publish(event: OutboundEvent): Promise<PublishAck>;
  /** Ends the current session after a failure, dropping what it has not sent yet. */
  restart(reason: string): void;
}

export interface PublisherLimits {
  readonly inflightMax: number;
  readonly pageRowsMax: number;
  readonly pollIntervalMs: number;
  readonly cursorSaveIntervalMs: number;
  readonly retryDelayMsMax: number;
}

export interface PublisherDependencies {
  readonly store: OutboxStore;
  readonly sink: EventSink;
  readonly limits: PublisherLimits;
  readonly subjectPrefix: string;
  readonly now: () => number;
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;
  /**
   * In a cluster: the partitions this node publishes at start (its leases' partitions; `own` and
   * `disown` move them). Undefined: every partition (a ledger alone).
   */
  readonly owned?: Iterable<number>;
}

/** A record whose events are in flight (acked once every one of them is). */
interface InflightEvent {
  readonly lsn: number;
  readonly atMs: number;
  acked: boolean;
  /** Its events not acknowledged yet. */
  waiting: number;
}

/** One partition's progress. Invariant: cursor <= sent, and inflight holds (cursor, sent]. */
interface Progress {
  readonly partition: number;
  /** Every record up to here is acknowledged (saved to ledger_event_cursors every so often). */
  cursor: number;
  /** The last record handed to the sink in this session. */
  sent: number;
  /** The last durable record heard of (wake-ups, polls, reads). */
  known: number;
  /** Events in flight, oldest first, from index `inflightHead` on (a queue without shifting). */
  readonly inflight: InflightEvent[];
  inflightHead: number;
  /** When the oldest unacknowledged record was committed (or first heard of). */
  pendingSinceMs: number | undefined;
  /** A record that does not decode stops its partition (never skipped: that would be a gap). */
  stalled: boolean;
  gapReported: boolean;
}

/** A round that handed nothing out (a gap not yet visible, say) waits this long to read again. */
const idleRetryMs = 50;
const retryDelayMsMin = 50;

export class EventPublisher {
  private readonly partitions = new Map<number, Progress>();
  private readonly work = new Signal();
  private readonly slots = new Signal();
  private readonly dirty = new Set<number>();
  private inflightCount = 0;
  private failed = false;
  private stopping = false;
  private loaded = false;
  private consecutiveFailures = 0;
  private readStart = 0;
  private saving: Promise<void> | undefined;
  private polling = false;
  private pollFailing = false;
  private timers: NodeJS.Timeout[] = [];
  private pumping: Promise<void> | undefined;
  private publishedTotal = 0;
  private readonly publishedBySubject = new Map<string, number>();
  private duplicatesTotal = 0;
  private failuresTotal = 0;

  /** In a cluster: the partitions published here (exactly one node publishes each). */
  private readonly owned: Set<number> | undefined;

  constructor(private readonly deps: PublisherDependencies) {
    this.owned = deps.owned === undefined ? undefined : new Set(deps.owned);
  }

  private publishes(partition: number): boolean {
    return this.owned === undefined || this.owned.has(partition);
  }

  /** Loads the cursors (retrying until Postgres answers or stop), then publishes until stop. */
  async start(): Promise<void> {
    const cursors = await this.loadCursors();
    if (cursors === undefined) return;
    for (const [partition, lsn] of cursors) {
      if (this.publishes(partition)) this.progressOf(partition, lsn);
    }
    this.loaded = true;
    await this.poll();
    if (this.stopping) return;
    const { pollIntervalMs, cursorSaveIntervalMs } = this.deps.limits;
    this.timers = [
      setInterval(() => void this.poll(), pollIntervalMs),
      setInterval(() => void this.saveCursors(), cursorSaveIntervalMs),
    ];
    this.pumping = this.pump();
  }

  /** After a group commit: `durableLsns` = partition, lsn, partition, lsn, ... now durable. */
  wake(durableLsns: readonly number[]): void {
    // Before the cursors are loaded, the first poll finds these records anyway.
    if (!this.loaded) return;
    for (let index = 0; index + 1 < durableLsns.length; index += 2) {
      this.heard(durableLsns[index] as number, durableLsns[index + 1] as number);
    }
    this.work.notify();
  }

  /**
   * A cluster gave this node partitions: their events are published from here on, from the
   * cursors saved by whoever published them before (events published since the last save go
   * again, and JetStream drops them as duplicates within its window).
   */
  async own(partitions: readonly number[]): Promise<void> {
    if (this.owned === undefined) return;
    const fresh = partitions.filter((partition) => !this.owned?.has(partition));
    for (const partition of fresh) this.owned.add(partition);
    // Before the first load, start() reads every cursor anyway.
    if (!this.loaded || fresh.length === 0) return;
    const cursors = await this.loadCursors();
    if (cursors === undefined) return;
    for (const partition of fresh) {
      const saved = cursors.get(partition) ?? 0;
      const progress = this.partitions.get(partition);
      // Published here before and still settling: it goes on from where it is.
      if (progress !== undefined && progress.inflight.length > progress.inflightHead) continue;
      this.partitions.delete(partition);
      this.dirty.delete(partition);
      this.progressOf(partition, Math.max(saved, progress?.cursor ?? 0));
    }
    await this.poll();
  }

  /**
   * A cluster took partitions from this node: nothing more of them is read; events in flight
   * settle and their cursors are saved (the next publisher starts from them).
   */
  disown(partitions: readonly number[]): void {
    if (this.owned === undefined) return;
    for (const partition of partitions) this.owned.delete(partition);
  }

  /** The sink connected or disconnected. */
  connectionChanged(): void {
    this.work.notify();
  }

  /** Stops reading, waits for what is in flight to settle, and saves the cursors. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    this.work.notify();
    this.slots.notify();
    await this.pumping;
    await this.drained();
    while (this.saving !== undefined) await this.saving;
    await this.saveCursors();
  }

  stats(): PublisherStats {
    let lagRecords = 0;
    let oldestPendingAtMs: number | null = null;
    for (const progress of this.partitions.values()) {
      if (progress.known <= progress.cursor || !this.publishes(progress.partition)) continue;
      lagRecords += progress.known - progress.cursor;
      const since = progress.pendingSinceMs ?? this.deps.now();
      if (oldestPendingAtMs === null || since < oldestPendingAtMs) oldestPendingAtMs = since;
    }
    return {
      connected: this.deps.sink.connected,
      lagRecords,
      oldestPendingAtMs,
      publishedTotal: this.publishedTotal,
      publishedBySubject: Object.fromEntries(this.publishedBySubject),
      duplicatesTotal: this.duplicatesTotal,
      failuresTotal: this.failuresTotal,
    };
  }

  private progressOf(partition: number, cursor = 0): Progress {
    let progress = this.partitions.get(partition);
    if (progress === undefined) {
      progress = {
        partition,
        cursor,
        sent: cursor,
        known: cursor,
        inflight: [],
        inflightHead: 0,
        pendingSinceMs: undefined,
        stalled: false,
        gapReported: false,
      };
      this.partitions.set(partition, progress);
    }
    return progress;
  }

  private heard(partition: number, lsn: number): void {
    if (!this.publishes(partition)) return;
    const progress = this.progressOf(partition);
    if (lsn <= progress.known) return;
    if (progress.known <= progress.cursor) progress.pendingSinceMs = this.deps.now();
    progress.known = lsn;
  }

  private async loadCursors(): Promise<Map<number, number> | undefined> {
    let delayMs = retryDelayMsMin;
    while (!this.stopping) {
      try {
        return await this.deps.store.loadCursors();
      } catch (error) {
        this.deps.log('warn', `event cursors could not be read (${messageOf(error)}); retrying`);
        await this.work.wait(delayMs);
        delayMs = Math.min(delayMs * 2, this.deps.limits.retryDelayMsMax);
      }
    }
    return undefined;
  }

  /** Reads every partition's last durable lsn: catches records whose wake-up was missed. */
  private async poll(): Promise<void> {
    if (this.polling || this.stopping) return;
    this.polling = true;
    try {
      const heads = await this.deps.store.durableHeads();
      for (const [partition, lsn] of heads) this.heard(partition, lsn);
      if (this.pollFailing) this.deps.log('info', 'event publisher reads the journal again');
      this.pollFailing = false;
      this.work.notify();
    } catch (error) {
      if (!this.pollFailing) {
        this.deps.log('warn', `event publisher cannot read the journal: ${messageOf(error)}`);
      }
      this.pollFailing = true;
    } finally {
      this.polling = false;
    }
  }

  private async pump(): Promise<void> {
    while (!this.stopping) {
      if (this.failed) {
        await this.recover();
        continue;
      }
      if (!this.deps.sink.connected) {
        await this.work.wait();
        continue;
      }
      const positions = this.positionsToRead();
      if (positions.length === 0) {
        await this.work.wait();
        continue;
      }
      const handed = await this.publishPage(positions);
      if (handed === 0) await this.work.wait(idleRetryMs);
    }
  }

  /** Partitions with durable records not yet handed out, at most one page's worth of them. */
  private positionsToRead(): ReadPosition[] {
    const { pageRowsMax } = this.deps.limits;
    let behind = [...this.partitions.values()].filter(
      (progress) =>
        !progress.stalled && progress.known > progress.sent && this.publishes(progress.partition),
    );
    if (behind.length > pageRowsMax) {
      // More partitions behind than rows in a page: take turns, so none waits for ever.
      const start = this.readStart % behind.length;
      behind = [...behind.slice(start), ...behind.slice(0, start)].slice(0, pageRowsMax);
      this.readStart = start + pageRowsMax;
    }
    return behind.map((progress) => ({ partition: progress.partition, afterLsn: progress.sent }));
  }

  /** Reads one page and hands its events to the sink in order; returns how many it handed. */
  private async publishPage(positions: readonly ReadPosition[]): Promise<number> {
    const rowsPerPartition = Math.max(
      1,
      Math.floor(this.deps.limits.pageRowsMax / positions.length),
    );
    let rows: OutboxRow[];
    try {
      rows = await this.deps.store.readAfter(positions, rowsPerPartition);
    } catch (error) {
      this.deps.log('warn', `event publisher cannot read the journal: ${messageOf(error)}`);
      await this.work.wait(this.deps.limits.retryDelayMsMax);
      return 0;
    }
    const returned = new Set(rows.map((row) => row.partition));
    for (const position of positions) {
      // Nothing after `sent` in the journal: what we heard was ahead of it; the poll corrects it.
      const progress = this.progressOf(position.partition);
      if (!returned.has(position.partition))
        progress.known = Math.max(progress.sent, progress.cursor);
    }
    let handed = 0;
    for (const row of rows) {
      const progress = this.progressOf(row.partition);
      const found = this.eventsFor(progress, row);
      if (found === undefined) continue;
      if (found.events.length === 0) {
        this.skip(progress, row.lsn, found.atMs);
        handed += 1;
        continue;
      }
      // No await while there is room: events handed out in one turn leave in one socket write.
      const needed = found.events.length;
      if (this.inflightCount + needed > this.deps.limits.inflightMax && !(await this.room(needed)))
        break;
      if (this.failed || this.stopping) break;
      this.send(progress, row.lsn, found.atMs, found.events);
      handed += 1;
    }
    return handed;
  }

  /** A record's events (none: it publishes nothing), or undefined if it cannot be sent yet. */
  private eventsFor(
    progress: Progress,
    row: OutboxRow,
  ): { events: OutboundEvent[]; atMs: number } | undefined {
    if (progress.stalled) return undefined;
    if (row.lsn !== progress.sent + 1) {
      // Never skip a record: wait until the one missing becomes visible.
      if (!progress.gapReported) {
        this.deps.log(
          'warn',
          `partition ${row.partition}: journal record ${progress.sent + 1} not visible yet`,
        );
      }
      progress.gapReported = true;
      return undefined;
    }
    try {
      const record = decodeRecord(row.payload);
      checkRecord(record);
      // A record that publishes nothing is passed over (still in order).
      const events = eventsOf(row.partition, row.lsn, record, this.deps.subjectPrefix);
      return { events, atMs: record.atMs };
    } catch (error) {
      progress.stalled = true;
      this.deps.log(
        'error',
        `partition ${row.partition}: journal record ${row.lsn} cannot become an event ` +
          `(${messageOf(error)}); this partition's events stop here`,
      );
      return undefined;
    }
  }

  /**
   * Waits until a quarter of the in-flight bound is free again (refilling one event per ack
   * would send each in a write of its own); false if the round failed or the publisher stops.
   */
  private async room(needed: number): Promise<boolean> {
    const { inflightMax } = this.deps.limits;
    assert(needed <= inflightMax, 'one record has more events than may be in flight');
    const resumeAt = Math.min(
      inflightMax - Math.max(1, Math.floor(inflightMax / 4)),
      inflightMax - needed,
    );
    while (this.inflightCount > resumeAt && !this.failed && !this.stopping) {
      await this.slots.wait();
    }
    return !this.failed && !this.stopping;
  }

  /** A record's events, published together; the record counts as acked once all of them are. */
  private send(progress: Progress, lsn: number, atMs: number, events: OutboundEvent[]): void {
    // What leaves is checked as the journal's records are: in lsn order without a gap, named by
    // its journal position (JetStream's duplicate check relies on it), within the bound.
    if (lsn !== progress.sent + 1) fail(`event ${lsn} sent after ${progress.sent}`);
    events.forEach((event, further) => {
      assert(event.msgId === eventId(progress.partition, lsn, further), 'an event named off');
    });
    assert(
      this.inflightCount + events.length <= this.deps.limits.inflightMax,
      'events in flight over the bound',
    );
    const entry: InflightEvent = { lsn, atMs, acked: false, waiting: events.length };
    this.enqueue(progress, entry);
    this.inflightCount += events.length;
    for (const event of events) {
      const subject = event.subject.slice(this.deps.subjectPrefix.length);
      this.deps.sink.publish(event).then(
        (ack) => this.acked(progress, entry, ack, subject),
        (error: unknown) => this.publishFailed(error),
      );
    }
  }

  /** A record that publishes nothing: passed over in order, as if its events were acked. */
  private skip(progress: Progress, lsn: number, atMs: number): void {
    if (lsn !== progress.sent + 1) fail(`record ${lsn} passed over after ${progress.sent}`);
    this.enqueue(progress, { lsn, atMs, acked: true, waiting: 0 });
    this.advance(progress);
  }

  private enqueue(progress: Progress, entry: InflightEvent): void {
    if (progress.inflight.length === progress.inflightHead && progress.cursor === progress.sent) {
      progress.pendingSinceMs = entry.atMs;
    }
    progress.inflight.push(entry);
    progress.sent = entry.lsn;
    progress.known = Math.max(progress.known, entry.lsn);
    progress.gapReported = false;
  }

  private acked(progress: Progress, entry: InflightEvent, ack: PublishAck, subject: string): void {
    this.inflightCount -= 1;
    this.publishedTotal += 1;
    this.publishedBySubject.set(subject, (this.publishedBySubject.get(subject) ?? 0) + 1);
    if (ack.duplicate) this.duplicatesTotal += 1;
    this.consecutiveFailures = 0;
    entry.waiting -= 1;
    if (entry.waiting === 0) {
      entry.acked = true;
      this.advance(progress);
    }
    this.slots.notify();
  }

  /** Moves the cursor over the acknowledged head of the partition's events in flight. */
  private advance(progress: Progress): void {
    const queue = progress.inflight;
    let head = progress.inflightHead;
    while (head < queue.length && (queue[head] as InflightEvent).acked) head += 1;
    if (head === progress.inflightHead) return;
    const last = queue[head - 1] as InflightEvent;
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    } else if (head >= 1024 && head * 2 >= queue.length) {
      queue.splice(0, head);
      head = 0;
    }
    progress.inflightHead = head;
    progress.cursor = last.lsn;
    this.dirty.add(progress.partition);
    if (progress.cursor >= progress.known) progress.pendingSinceMs = undefined;
    else progress.pendingSinceMs = queue[head]?.atMs ?? last.atMs;
  }

  private publishFailed(error: unknown): void {
    this.inflightCount -= 1;
    this.slots.notify();
    if (this.failed) return;
    this.failed = true;
    this.deps.log(
      'warn',
      `event publish failed (${messageOf(error)}); resuming from the cursors after reconnecting`,
    );
    this.deps.sink.restart(messageOf(error));
    this.work.notify();
  }

  /** After a failure: let everything in flight settle, then start again from the cursors. */
  private async recover(): Promise<void> {
    this.failuresTotal += 1;
    await this.drained();
    for (const progress of this.partitions.values()) {
      progress.inflight.length = 0;
      progress.inflightHead = 0;
      progress.sent = progress.cursor;
    }
    this.consecutiveFailures += 1;
    const delayMs = Math.min(
      retryDelayMsMin * 2 ** Math.min(this.consecutiveFailures - 1, 16),
      this.deps.limits.retryDelayMsMax,
    );
    this.failed = false;
    if (!this.stopping) await this.work.wait(delayMs);
  }

  private async drained(): Promise<void> {
    while (this.inflightCount > 0) await this.slots.wait();
  }

  /** Saves the cursors that moved since the last save, in one statement. */
  private async saveCursors(): Promise<void> {
    if (this.saving !== undefined || this.dirty.size === 0) return;
    const cursors = new Map<number, number>();
    for (const partition of this.dirty) {
      cursors.set(partition, this.progressOf(partition).cursor);
    }
    this.dirty.clear();
    const saving = this.deps.store.saveCursors(cursors).then(
      () => undefined,
      (error: unknown) => {
        for (const partition of cursors.keys()) this.dirty.add(partition);
        this.deps.log('warn', `event cursors could not be saved: ${messageOf(error)}`);
      },
    );
    this.saving = saving;
    await saving;
    this.saving = undefined;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
