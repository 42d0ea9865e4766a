// Before a load: stock every key of the scenario. After it: learn the fate of the requests whose
// answer was lost (replay each with the same body: idempotency makes the replay say what
// happened), then read every key back and compare it with what the acknowledged operations
// imply. Any difference is a lost or invented change; any unit acknowledged beyond the stock is
// an oversell. The same check runs against the ledger and the stateful baselines.
import { adjustStock, call, readStock, type StockView } from './ledger-api.js';
import { operationPaths, type UnknownRequest } from './load-worker.js';
import {
  expectedStock,
  oversellOf,
  stockKeyAt,
  type KeyTallies,
  type Scenario,
} from './scenarios.js';

/** Control-plane calls in flight at once while stocking or reading thousands of keys. */
const controlConcurrency = 16;
/** Mismatched keys listed in the result (the count is always exact). */
const mismatchesListed = 10;

async function forEachLimited(count: number, work: (index: number) => Promise<void>) {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const index = next;
      next += 1;
      await work(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(controlConcurrency, count) }, lane));
}

export async function stockScenario(baseUrl: string, scenario: Scenario): Promise<void> {
  await forEachLimited(scenario.keyCount, async (index) => {
    const view = await adjustStock(baseUrl, stockKeyAt(scenario.name, index), scenario.stockPerKey);
    if (view.onHand !== scenario.stockPerKey) {
      throw new Error(`stocking key ${index} left on_hand ${view.onHand}, not a fresh key`);
    }
  });
}

export interface ReplayFigures {
  readonly unknown: number;
  /** Replays answered 200 (the operation took effect, before or by the replay). */
  readonly applied: number;
  /** Replays refused as the load would have been (e.g. 409 insufficient_stock when sold out). */
  readonly refused: number;
  readonly failed: Record<string, number>;
}

/** Replays every unknown request; the tallies then count those that took effect. */
export async function resolveUnknown(
  baseUrl: string,
  scenario: Scenario,
  unknown: readonly UnknownRequest[],
  tallies: KeyTallies,
): Promise<ReplayFigures> {
  let applied = 0;
  let refused = 0;
  const failed: Record<string, number> = {};
  for (const request of unknown) {
    const answer = await call(baseUrl, operationPaths[request.operation], request.body);
    if (answer.status === 200) {
      applied += 1;
      // A cart's lines are reserves of their keys, one unit each.
      const tally =
        request.operation === 'reserve' || request.operation === 'cart'
          ? tallies.reserved
          : request.operation === 'confirm'
            ? tallies.confirmed
            : tallies.released;
      for (const keyIndex of request.keyIndexes) tally[keyIndex] = (tally[keyIndex] ?? 0) + 1;
    } else if (scenario.sellsOut && answer.status === 409) {
      refused += 1;
    } else {
      const label = `${request.operation} ${answer.status}`;
      failed[label] = (failed[label] ?? 0) + 1;
    }
  }
  return { unknown: unknown.length, applied, refused, failed };
}

export interface KeyMismatch {
  readonly key: number;
  readonly expected: { readonly onHand: number; readonly reserved: number };
  readonly read: StockView;
}

export interface StateCheck {
  readonly replay: ReplayFigures;
  readonly keysRead: number;
  readonly mismatchedKeys: number;
  readonly mismatches: KeyMismatch[];
  /** Units acknowledged (or held/sold, per the server) beyond the stock put in: must be 0. */
  readonly oversellUnits: number;
  /**
   * Acknowledged units reserved (a cart counts its lines), confirmed and released over all
   * keys (warm-up and measured).
   */
  readonly acknowledged: { reserved: number; confirmed: number; released: number };
  /** Units left available on the sold-out key at the end (0 once it sold out). */
  readonly availableAtEnd: number | null;
  /**
   * One-key scenarios: units the server says are held or sold at the end (reserved plus what
   * left on_hand), read from its stock; a flash crowd that sold out must read its stock here.
   */
  readonly soldAtEnd: number | null;
  /** Reserves sent but never answered nor replayable (wrk's last ones); may or may not count. */
  readonly unresolved: number;
  readonly ok: boolean;
}

const sum = (values: Float64Array): number => values.reduce((total, value) => total + value, 0);

/**
 * `unresolved`: reserves of a one-key scenario sent but never answered nor replayable (wrk's last
 * ones): the key may hold up to that many more than the acknowledged ones, never fewer.
 */
export async function checkState(
  baseUrl: string,
  scenario: Scenario,
  tallies: KeyTallies,
  unknown: readonly UnknownRequest[],
  unresolved = 0,
): Promise<StateCheck> {
  const replay = await resolveUnknown(baseUrl, scenario, unknown, tallies);
  const mismatches: KeyMismatch[] = [];
  let mismatchedKeys = 0;
  let oversellUnits = 0;
  let availableAtEnd: number | null = null;
  let soldAtEnd: number | null = null;
  await forEachLimited(scenario.keyCount, async (index) => {
    const read = await readStock(baseUrl, stockKeyAt(scenario.name, index));
    const expected = expectedStock(scenario.stockPerKey, tallies, index);
    oversellUnits += oversellOf(scenario.stockPerKey, tallies, index, read);
    if (scenario.keyCount === 1) {
      availableAtEnd = read.available;
      soldAtEnd = read.reserved + (scenario.stockPerKey - read.onHand);
    }
    const extra = read.reserved - expected.reserved;
    if (read.onHand === expected.onHand && extra >= 0 && extra <= unresolved) return;
    mismatchedKeys += 1;
    if (mismatches.length < mismatchesListed) mismatches.push({ key: index, expected, read });
  });
  const failedReplays = Object.keys(replay.failed).length;
  return {
    replay,
    keysRead: scenario.keyCount,
    mismatchedKeys,
    mismatches,
    oversellUnits,
    acknowledged: {
      reserved: sum(tallies.reserved),
      confirmed: sum(tallies.confirmed),
      released: sum(tallies.released),
    },
    availableAtEnd,
    soldAtEnd,
    unresolved,
    ok: mismatchedKeys === 0 && oversellUnits === 0 && failedReplays === 0,
  };
}
