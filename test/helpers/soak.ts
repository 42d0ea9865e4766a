// Budgets for the proof tests: a bounded default for CI, the long version under SOAK=1, and each
// number overridable by its own variable. Tests report what they did; `npm run test:soak`
// collects the reports (SOAK_SUMMARY_FILE) and prints them as a table.
import { appendFileSync } from 'node:fs';

export const soak = process.env.SOAK === '1';

/** `name` from the environment if set, else the soak or the CI default. */
export function knob(name: string, ciDefault: number, soakDefault: number): number {
  const raw = process.env[name];
  if (raw !== undefined && raw !== '') {
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number >= 0`);
    return value;
  }
  return soak ? soakDefault : ciDefault;
}

export interface SummaryRow {
  readonly test: string;
  readonly seconds: number;
  readonly counts: Readonly<Record<string, number>>;
}

/** Appends one row to the soak summary, when a soak run asked for one. */
export function report(row: SummaryRow): void {
  const file = process.env.SOAK_SUMMARY_FILE;
  if (file === undefined || file === '') return;
  appendFileSync(file, `${JSON.stringify(row)}\n`);
}

/** A per-test timeout that fits the budget: the CI default, or the soak's duration plus slack. */
export function timeoutFor(expectedMs: number): number {
  return Math.max(60_000, Math.ceil(expectedMs * 1.5) + 60_000);
}
