// Proves the shard's expiry schedule (buckets of expiry time, compacted a step at a time) against
// a model of its entries under random schedules (some already due), confirms, extends, sweeps
// with caps and dropped partitions: every due pending hold expires, in (time, id) order, none
// twice and none early; an entry of a pending hold is never dropped; and once no compaction pass
// is under way, the schedule holds at most twice its live entries plus the slack.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import type { ExpiryEntry } from '../../src/shards/expiry-heap.js';
import { ExpirySchedule } from '../../src/shards/expiry-schedule.js';
import { runOptions } from '../helpers/fc-options.js';

type Step =
  | { kind: 'reserve'; inMs: number; partition: number }
  | { kind: 'finish'; pick: number }
  | { kind: 'extend'; pick: number; byMs: number }
  | { kind: 'sweep'; advanceMs: number; max: number }
  | { kind: 'drop'; partition: number };

const step = (withExtends: boolean): fc.Arbitrary<Step> =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant('reserve' as const),
        // Some due already (a recovered hold), most later; many share a millisecond.
        inMs: fc.integer({ min: -30, max: 400 }),
        partition: fc.nat({ max: 3 }),
      }),
    },
    {
      weight: 7,
      arbitrary: fc.record({ kind: fc.constant('finish' as const), pick: fc.nat() }),
    },
    {
      weight: withExtends ? 2 : 0,
      arbitrary: fc.record({
        kind: fc.constant('extend' as const),
        pick: fc.nat(),
        byMs: fc.integer({ min: 1, max: 200 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('sweep' as const),
        advanceMs: fc.integer({ min: 0, max: 40 }),
        max: fc.integer({ min: 1, max: 30 }),
      }),
    },
    {
      weight: withExtends ? 1 : 0,
      arbitrary: fc.record({ kind: fc.constant('drop' as const), partition: fc.nat({ max: 3 }) }),
    },
  );

const shape = fc.record({
  bucketWidthMs: fc.integer({ min: 1, max: 50 }),
  compactionSlack: fc.integer({ min: 1, max: 20 }),
  compactionStepEntries: fc.integer({ min: 1, max: 40 }),
});

interface Hold {
  readonly id: string;
  readonly partition: number;
  expiresAtMs: number;
  pending: boolean;
}

const order = (a: ExpiryEntry, b: ExpiryEntry): number =>
  a.expiresAtMs - b.expiresAtMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

/** The model: every entry scheduled and not swept out, by `time id` (one per time and hold). */
class Model {
  readonly holds = new Map<string, Hold>();
  /** Entries not yet popped, keyed `partition:time:id`. */
  readonly entries = new Map<string, ExpiryEntry>();
  nowMs = 1_000;
  next = 0;

  static key(entry: ExpiryEntry): string {
    return `${entry.partition}:${entry.expiresAtMs}:${entry.key}`;
  }

  /** Entries `isPending` keeps: a compaction may drop every other one. */
  kept(): ExpiryEntry[] {
    return [...this.entries.values()].filter((entry) => this.isPending(entry));
  }

  readonly isPending = (entry: ExpiryEntry): boolean => this.holds.get(entry.key)?.pending === true;

  pendingHold(pick: number): Hold | undefined {
    const pending = [...this.holds.values()].filter((hold) => hold.pending);
    return pending[pick % Math.max(1, pending.length)];
  }
}

function run(
  schedule: ExpirySchedule<string>,
  model: Model,
  each: Step,
  slack: number,
  bounded: boolean,
): void {
  if (each.kind === 'reserve') {
    // Ids of a width, so that their order as strings is their order as numbers.
    const id = `h${String(model.next++).padStart(5, '0')}`;
    const hold = {
      id,
      partition: each.partition,
      expiresAtMs: model.nowMs + each.inMs,
      pending: true,
    };
    model.holds.set(id, hold);
    const entry = { expiresAtMs: hold.expiresAtMs, partition: hold.partition, key: id };
    model.entries.set(Model.key(entry), entry);
    schedule.schedule(hold.partition, id, hold.expiresAtMs);
  } else if (each.kind === 'finish' || each.kind === 'extend') {
    const hold = model.pendingHold(each.pick);
    if (hold === undefined) return;
    if (each.kind === 'finish') hold.pending = false;
    else {
      hold.expiresAtMs += each.byMs;
      const entry = {
        expiresAtMs: hold.expiresAtMs,
        partition: hold.partition,
        key: hold.id,
      };
      model.entries.set(Model.key(entry), entry);
      schedule.schedule(hold.partition, hold.id, hold.expiresAtMs);
    }
    schedule.finishedEarly(model.isPending);
    if (bounded && !schedule.compacting) {
      const kept = model.kept().length;
      check(
        schedule.size <= Math.max(2 * kept, kept + slack),
        `${schedule.size} entries for ${kept} live, slack ${slack}`,
      );
    }
  } else if (each.kind === 'sweep') {
    model.nowMs += each.advanceMs;
    sweep(schedule, model, each.max);
  } else {
    for (const [key, entry] of model.entries) {
      if (entry.partition === each.partition) model.entries.delete(key);
    }
    for (const hold of model.holds.values()) {
      if (hold.partition === each.partition) hold.pending = false;
    }
    schedule.dropPartitions(new Set([each.partition]));
  }
  const kept = model.kept().length;
  check(schedule.size >= kept, `${schedule.size} entries, ${kept} of pending holds`);
  check(schedule.size <= model.entries.size, `${schedule.size} entries, ${model.entries.size}`);
}

function sweep(schedule: ExpirySchedule<string>, model: Model, max: number): void {
  let previous: ExpiryEntry | undefined;
  const expired = schedule.sweep(model.nowMs, max, (entry) => {
    const key = Model.key(entry);
    check(model.entries.delete(key), `${key} popped twice or never scheduled`);
    check(entry.expiresAtMs <= model.nowMs, `${key} popped before its time`);
    check(previous === undefined || order(previous, entry) <= 0, `${key} popped out of order`);
    // Nothing earlier is left behind that could still expire.
    for (const other of model.kept()) {
      check(order(other, entry) >= 0, `${Model.key(other)} left behind ${key}`);
    }
    previous = entry;
    const hold = model.holds.get(entry.key);
    if (hold?.pending !== true || hold.expiresAtMs > model.nowMs) return false;
    hold.pending = false;
    return true;
  });
  check(expired <= max, `${expired} expired over a cap of ${max}`);
  if (expired < max) {
    for (const hold of model.holds.values()) {
      check(!hold.pending || hold.expiresAtMs > model.nowMs, `${hold.id} due and not expired`);
    }
  }
}

describe('ExpirySchedule against a model of its entries', () => {
  for (const withExtends of [false, true]) {
    const name = withExtends
      ? 'expires every due hold in order through extends and dropped partitions'
      : 'expires every due hold in order and stays within twice the live entries';
    it(name, () => {
      const property = fc.property(
        shape,
        fc.array(step(withExtends), { minLength: 50, maxLength: 400 }),
        (scheduleShape, steps) => {
          const schedule = new ExpirySchedule<string>(scheduleShape);
          const model = new Model();
          for (const each of steps) {
            run(schedule, model, each, scheduleShape.compactionSlack, !withExtends);
          }
          model.nowMs += 1_000;
          sweep(schedule, model, Number.POSITIVE_INFINITY);
          check(schedule.size === 0 || schedule.nextDueMs > model.nowMs, 'entries left due');
        },
      );
      fc.assert(property, runOptions(200));
    });
  }
});
