// Proves the publisher's outbox rules against an in-memory journal and a scripted or simulated
// JetStream: lsn order per partition, bounded in flight, cursors only over unbroken acks, resume
// from cursors after failures (no gap, first copies in order), polls catch missed wake-ups.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../../src/actors/index.js';
import type { OutboundEvent } from '../../../src/events/index.js';
import type { OutboxRow, OutboxStore, ReadPosition } from '../../../src/events/outbox-store.js';
import {
  EventPublisher,
  type EventSink,
  type PublishAck,
  type PublisherLimits,
} from '../../../src/events/publisher.js';
import { encodeRecord } from '../../../src/persistence/index.js';
import { runOptions } from '../../helpers/fc-options.js';

class MemoryStore implements OutboxStore {
  readonly journal = new Map<number, Uint8Array[]>();
  readonly cursors = new Map<number, number>();
  saves = 0;

  append(partition: number, record: JournalRecord): number {
    const rows = this.journal.get(partition) ?? [];
    rows.push(encodeRecord(record));
    this.journal.set(partition, rows);
    return rows.length;
  }

  async loadCursors(): Promise<Map<number, number>> {
    return new Map(this.cursors);
  }

  async durableHeads(): Promise<Map<number, number>> {
    return new Map([...this.journal].map(([partition, rows]) => [partition, rows.length]));
  }

  async readAfter(positions: readonly ReadPosition[], perPartition: number): Promise<OutboxRow[]> {
    return positions.flatMap(({ partition, afterLsn }) =>
      (this.journal.get(partition) ?? [])
        .slice(afterLsn, afterLsn + perPartition)
        .map((payload, index) => ({ partition, lsn: afterLsn + index + 1, payload })),
    );
  }

  async saveCursors(cursors: ReadonlyMap<number, number>): Promise<void> {
    this.saves += 1;
    for (const [partition, lsn] of cursors) {
      this.cursors.set(partition, Math.max(lsn, this.cursors.get(partition) ?? 0));
    }
  }
}

interface Pending {
  readonly event: OutboundEvent;
  resolve(ack: PublishAck): void;
  reject(error: Error): void;
}

/** A sink whose acknowledgements the test hands out by hand. */
class ScriptedSink implements EventSink {
  connected = true;
  pending: Pending[] = [];
  readonly published: OutboundEvent[] = [];
  restarts = 0;

  publish(event: OutboundEvent): Promise<PublishAck> {
    this.published.push(event);
    return new Promise((resolve, reject) => this.pending.push({ event, resolve, reject }));
  }

  restart(): void {
    this.restarts += 1;
    const dropped = this.pending;
    this.pending = [];
    for (const entry of dropped) entry.reject(new Error('connection closed'));
  }

  ack(count = this.pending.length): void {
    for (const entry of this.pending.splice(0, count)) entry.resolve({ duplicate: false });
  }
}

const limits: PublisherLimits = {
  inflightMax: 8,
  pageRowsMax: 4,
  pollIntervalMs: 20,
  cursorSaveIntervalMs: 5,
  retryDelayMsMax: 20,
};

function reserved(serial: number): JournalRecord {
  return {
    type: 'reserved',
    productId: 'sku-1',
    warehouseId: 'wh-1',
    version: serial,
    atMs: 1_700_000_000_000 + serial,
    traceId: `trace-${serial}`,
    reservationId: `00000000-0000-8000-8000-${serial.toString(16).padStart(12, '0')}`,
    quantity: 1,
    expiresAtMs: 1_700_000_600_000,
    idempotencyKey: `key-${serial}`.padEnd(16, '0'),
    requesterId: '',
  };
}

const running: { publisher: EventPublisher; sink: EventSink }[] = [];
function startPublisher(store: OutboxStore, sink: EventSink, overrides = {}): EventPublisher {
  const publisher = new EventPublisher({
    store,
    sink,
    limits: { ...limits, ...overrides },
    subjectPrefix: '',
    now: Date.now,
    log: () => undefined,
  });
  running.push({ publisher, sink });
  void publisher.start();
  return publisher;
}

async function waitFor(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

afterEach(async () => {
  // Stopping waits for what is in flight; a scripted sink must be told to acknowledge it.
  for (const { publisher, sink } of running.splice(0)) {
    let stopped = false;
    const stopping = publisher.stop().then(() => (stopped = true));
    await waitFor(() => {
      if (sink instanceof ScriptedSink) sink.ack();
      return stopped;
    });
    await stopping;
  }
});

describe('EventPublisher', () => {
  it('publishes each durable record once, in lsn order per partition; saves cursors', async () => {
    const store = new MemoryStore();
    for (let serial = 1; serial <= 10; serial += 1) store.append(serial % 2, reserved(serial));
    const sink = new ScriptedSink();
    startPublisher(store, sink);
    await waitFor(() => {
      sink.ack();
      return sink.published.length === 10;
    });
    sink.ack();
    await waitFor(() => store.cursors.get(0) === 5 && store.cursors.get(1) === 5);
    for (const partition of [0, 1]) {
      const ids = sink.published
        .map((event) => event.msgId)
        .filter((id) => id.startsWith(`${partition}-`));
      expect(ids).toEqual([1, 2, 3, 4, 5].map((lsn) => `${partition}-${lsn}`));
    }
  });

  it('passes over records that publish nothing, in order, and moves the cursor past them', async () => {
    const store = new MemoryStore();
    const step = (serial: number): JournalRecord => ({
      type: 'cart-confirm',
      cartId: '00000000-0000-8000-8000-000000010000',
      attempt: `attempt-${serial}`,
      step: 'aborted',
      holds: [],
      atMs: 1_700_000_000_000 + serial,
      traceId: '',
    });
    // Two in a row, one between events, and one last: the cursor ends past all of them.
    for (const [serial, record] of [
      reserved(1),
      step(2),
      step(3),
      reserved(4),
      step(5),
      reserved(6),
      step(7),
    ].entries()) {
      expect(store.append(0, record)).toBe(serial + 1);
    }
    const sink = new ScriptedSink();
    startPublisher(store, sink);
    await waitFor(() => {
      sink.ack();
      return store.cursors.get(0) === 7;
    });
    expect(sink.published.map((event) => event.msgId)).toEqual(['0-1', '0-4', '0-6']);
  });

  it('sends every event of a record, and moves the cursor past it only once all are acked', async () => {
    const store = new MemoryStore();
    const soldOut = { ...reserved(1), signals: { flags: 5, onHand: 1, reserved: 1 } };
    store.append(0, soldOut as JournalRecord);
    store.append(0, reserved(2));
    const sink = new ScriptedSink();
    startPublisher(store, sink);
    await waitFor(() => sink.published.length === 4);
    expect(sink.published.map((event) => event.msgId)).toEqual(['0-1', '0-1-1', '0-1-2', '0-2']);
    sink.ack(2); // the record's first two events: not the whole record yet
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(store.cursors.get(0) ?? 0).toBe(0);
    sink.ack(1);
    await waitFor(() => store.cursors.get(0) === 1);
    sink.ack();
    await waitFor(() => store.cursors.get(0) === 2);
  });

  it('never has more than inflightMax events unacknowledged', async () => {
    const store = new MemoryStore();
    for (let serial = 1; serial <= 30; serial += 1) store.append(0, reserved(serial));
    const sink = new ScriptedSink();
    const publisher = startPublisher(store, sink);
    await waitFor(() => sink.pending.length === limits.inflightMax);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(sink.pending).toHaveLength(limits.inflightMax);
    expect(publisher.stats().lagRecords).toBe(30);
  });

  it('keeps cursors right over thousands of events in flight, acknowledged in bursts', async () => {
    const store = new MemoryStore();
    for (let serial = 1; serial <= 6000; serial += 1) store.append(3, reserved(serial));
    const sink = new ScriptedSink();
    const publisher = startPublisher(store, sink, { inflightMax: 2048, pageRowsMax: 512 });
    let burst = 0;
    await waitFor(() => {
      sink.ack(1 + (((burst += 1) * 397) % 700));
      return store.cursors.get(3) === 6000;
    }, 10_000);
    expect(sink.published.map((event) => event.msgId)).toEqual(
      Array.from({ length: 6000 }, (_, index) => `3-${index + 1}`),
    );
    expect(publisher.stats()).toMatchObject({ lagRecords: 0, publishedTotal: 6000 });
  });

  it('moves a cursor only over an unbroken run of acknowledged events', async () => {
    const store = new MemoryStore();
    for (let serial = 1; serial <= 3; serial += 1) store.append(0, reserved(serial));
    const sink = new ScriptedSink();
    const publisher = startPublisher(store, sink);
    await waitFor(() => sink.pending.length === 3);
    const [first, second, third] = sink.pending;
    second?.resolve({ duplicate: false });
    third?.resolve({ duplicate: false });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(store.cursors.get(0) ?? 0).toBe(0);
    expect(publisher.stats().lagRecords).toBe(3);
    first?.resolve({ duplicate: false });
    await waitFor(() => store.cursors.get(0) === 3);
    expect(publisher.stats()).toMatchObject({ lagRecords: 0, oldestPendingAtMs: null });
  });

  it('after a failed publish, restarts the sink and publishes again from the cursor', async () => {
    const store = new MemoryStore();
    for (let serial = 1; serial <= 4; serial += 1) store.append(5, reserved(serial));
    const sink = new ScriptedSink();
    const publisher = startPublisher(store, sink);
    await waitFor(() => sink.pending.length === 4);
    sink.ack(1);
    sink.pending[0]?.reject(new Error('timeout'));
    await waitFor(() => sink.restarts === 1 && sink.pending.length === 3);
    expect(sink.pending.map((entry) => entry.event.msgId)).toEqual(['5-2', '5-3', '5-4']);
    sink.ack();
    await waitFor(() => store.cursors.get(5) === 4);
    expect(publisher.stats().failuresTotal).toBe(1);
  });

  it('waits while the sink is disconnected and catches up when it is back', async () => {
    const store = new MemoryStore();
    const sink = new ScriptedSink();
    sink.connected = false;
    const publisher = startPublisher(store, sink);
    store.append(2, reserved(1));
    publisher.wake([2, 1]);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(sink.published).toEqual([]);
    expect(publisher.stats().lagRecords).toBe(1);
    expect(publisher.stats().oldestPendingAtMs).not.toBeNull();
    sink.connected = true;
    publisher.connectionChanged();
    await waitFor(() => sink.published.length === 1);
  });

  it('finds records whose wake-up never came, by polling the journal heads', async () => {
    const store = new MemoryStore();
    const sink = new ScriptedSink();
    startPublisher(store, sink);
    await new Promise((resolve) => setTimeout(resolve, 10));
    store.append(9, reserved(1));
    await waitFor(() => sink.published.length === 1);
  });

  it('starts from the saved cursors, so nothing before them is published again', async () => {
    const store = new MemoryStore();
    for (let serial = 1; serial <= 5; serial += 1) store.append(1, reserved(serial));
    store.cursors.set(1, 3);
    const sink = new ScriptedSink();
    startPublisher(store, sink);
    await waitFor(() => sink.published.length === 2);
    expect(sink.published.map((event) => event.msgId)).toEqual(['1-4', '1-5']);
  });

  it('stops a partition at a record that does not decode, never skipping it', async () => {
    const store = new MemoryStore();
    store.append(0, reserved(1));
    store.journal.get(0)?.push(new Uint8Array([0xc0]));
    store.append(0, reserved(3));
    store.append(1, reserved(4));
    const sink = new ScriptedSink();
    const publisher = startPublisher(store, sink);
    await waitFor(() => {
      sink.ack();
      return sink.published.length === 2;
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(sink.published.map((event) => event.msgId).sort()).toEqual(['0-1', '1-1']);
    expect(publisher.stats().lagRecords).toBe(2);
  });

  it('never publishes past a gap in the lsns, and publishes what recovery writes in it', async () => {
    // A later group commit committed while an earlier one failed: lsn 4 lies past the gap at 3.
    const rows = new Map<number, Uint8Array>([
      [1, encodeRecord(reserved(1))],
      [2, encodeRecord(reserved(2))],
      [4, encodeRecord(reserved(104))],
    ]);
    let reads = 0;
    const store: OutboxStore = {
      loadCursors: async () => new Map(),
      durableHeads: async () => new Map([[0, Math.max(...rows.keys())]]),
      readAfter: async (positions, perPartition) => {
        reads += 1;
        const lsns = [...rows.keys()].sort((a, b) => a - b);
        return positions.flatMap(({ partition, afterLsn }) =>
          lsns
            .filter((lsn) => partition === 0 && lsn > afterLsn)
            .slice(0, perPartition)
            .map((lsn) => ({ partition, lsn, payload: rows.get(lsn) as Uint8Array })),
        );
      },
      saveCursors: async () => undefined,
    };
    const sink = new ScriptedSink();
    startPublisher(store, sink);
    await waitFor(() => {
      sink.ack();
      return sink.published.length === 2;
    });
    // It has read the gap again and again since: still nothing past it.
    const seen = reads;
    await waitFor(() => reads >= seen + 3);
    expect(sink.published.map((event) => event.msgId)).toEqual(['0-1', '0-2']);
    // Recovery removes the row past the gap and the partition is written again from lsn 3.
    rows.set(3, encodeRecord(reserved(3)));
    rows.set(4, encodeRecord(reserved(4)));
    await waitFor(() => {
      sink.ack();
      return sink.published.length === 4;
    });
    expect(sink.published.map((event) => event.msgId)).toEqual(['0-1', '0-2', '0-3', '0-4']);
    const versions = sink.published.map((event) =>
      'version' in event.body ? event.body.version : 0,
    );
    expect(versions).toEqual([1, 2, 3, 4]);
  });

  it('stores each event once and in order when sessions lose their tail', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 99 }), { minLength: 1, maxLength: 200 }),
        async (partitions, fates) => {
          const store = new MemoryStore();
          partitions.forEach((partition, serial) => store.append(partition, reserved(serial + 1)));
          const sink = new SimulatedJetStream(fates);
          const publisher = startPublisher(store, sink);
          await waitFor(() => sink.stream.length === partitions.length, 5000);
          await publisher.stop();
          const byPartition = new Map<number, number[]>();
          for (const id of sink.stream) {
            const [partition, lsn] = id.split('-').map(Number) as [number, number];
            byPartition.set(partition, [...(byPartition.get(partition) ?? []), lsn]);
          }
          for (const [partition, lsns] of byPartition) {
            const count = store.journal.get(partition)?.length ?? 0;
            expect(lsns).toEqual(Array.from({ length: count }, (_, index) => index + 1));
          }
        },
      ),
      runOptions(40),
    );
  });
});

/**
 * JetStream over one connection per session: messages are stored in the order sent, a repeated
 * id is acknowledged as a duplicate, and when a message is lost, every later one of the same
 * session is lost too (they were behind it on the same broken connection).
 */
class SimulatedJetStream implements EventSink {
  connected = true;
  readonly stream: string[] = [];
  private readonly ids = new Set<string>();
  private broken = false;
  private turn = 0;
  /** Losses stop after this many, so that every run ends. */
  private lossesLeft = 20;
  private inSession: Pending[] = [];

  constructor(private readonly fates: readonly number[]) {}

  publish(event: OutboundEvent): Promise<PublishAck> {
    return new Promise((resolve, reject) => {
      const entry = { event, resolve, reject };
      this.inSession.push(entry);
      const fate = this.fates[this.turn++ % this.fates.length] as number;
      if (this.broken || (fate < 10 && this.lossesLeft > 0)) {
        // Lost: its acknowledgement never comes, so the publish times out.
        if (!this.broken) this.lossesLeft -= 1;
        this.broken = true;
        setTimeout(() => reject(new Error('timeout')), 1);
        return;
      }
      const duplicate = this.ids.has(event.msgId);
      if (!duplicate) {
        this.ids.add(event.msgId);
        this.stream.push(event.msgId);
      }
      setTimeout(() => resolve({ duplicate }), fate % 3);
    });
  }

  restart(): void {
    this.broken = false;
    const dropped = this.inSession;
    this.inSession = [];
    for (const entry of dropped) entry.reject(new Error('connection closed'));
  }
}
