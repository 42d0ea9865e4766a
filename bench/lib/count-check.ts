// The hot-SKU correctness check, for the ledger and for every baseline that keeps stock:
// reserved must equal the 200s counted, once the requests cut off when the load stopped are
// resolved by replaying them with the same idempotency key (see bench/README.md, step 6).
import { readStock, resolveUnanswered, type StockKey } from './ledger-api.js';
import type { IdempotencyKeys, PhaseResult } from './load.js';
import type { CheckFigures } from './report.js';

/** How the end of the load is awaited: reserved must stop moving for settleReads reads. */
const settlePollMs = 200;
const settleReads = 3;
const settleTimeoutMs = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads the stock until reserved stops moving: requests cut off mid-flight land meanwhile. */
async function settledStock(baseUrl: string, stockKey: StockKey) {
  const deadlineMs = Date.now() + settleTimeoutMs;
  let last = await readStock(baseUrl, stockKey);
  let same = 0;
  while (same < settleReads && Date.now() < deadlineMs) {
    await sleep(settlePollMs);
    const next = await readStock(baseUrl, stockKey);
    same = next.reserved === last.reserved ? same + 1 : 0;
    last = next;
  }
  return last;
}

export const count200 = (phase: PhaseResult | undefined): number =>
  phase?.autocannon.statusCodeStats['200']?.count ?? 0;

export async function verifyReservedCount(
  baseUrl: string,
  stockKey: StockKey,
  stockDelta: number,
  keys: IdempotencyKeys,
  phases: readonly (PhaseResult | undefined)[],
): Promise<CheckFigures> {
  const answered200 = phases.reduce((sum, phase) => sum + count200(phase), 0);
  const atStop = await settledStock(baseUrl, stockKey);
  const unanswered = keys.unansweredKeys();
  const resolved = await resolveUnanswered(baseUrl, stockKey, unanswered);
  const after = await readStock(baseUrl, stockKey);
  const ok =
    atStop.reserved === answered200 + resolved.appliedBefore &&
    after.reserved === atStop.reserved + resolved.appliedByReplay &&
    resolved.appliedBefore + resolved.appliedByReplay === unanswered.length &&
    after.onHand === stockDelta;
  return {
    answered200,
    unansweredAtStop: unanswered.length,
    appliedBeforeStop: resolved.appliedBefore,
    appliedByReplay: resolved.appliedByReplay,
    replayFailures: resolved.failed,
    reservedAtStop: atStop.reserved,
    reservedAfterReplay: after.reserved,
    onHand: after.onHand,
    ok,
  };
}
