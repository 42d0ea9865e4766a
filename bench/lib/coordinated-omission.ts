// wrk does not print the latencies it timed: before printing, it corrects them for coordinated
// omission. A closed-loop connection that waits 60 ms for one answer sends nothing meanwhile,
// so the requests a steady sender would have sent in that time (and which would have waited
// too) are never timed; wrk adds them back. With `interval` = the run's time over the answers
// per connection (the mean time between one connection's requests), every answer timed n µs,
// n ≥ 2 × interval, adds one sample at n − interval, n − 2 × interval, ... while above
// interval (wrk's stats_correct). So wrk's p99 is not the bench's p99: a few slow answers
// become many samples. To compare the two generators on the same terms, the bench applies the
// same correction to its own timings (HdrHistogram's, which differs from wrk's only in also
// adding a sample at exactly `interval`), and undoes wrk's to get wrk's raw timings.
import type { Histogram } from 'hdr-histogram-js';

/** microseconds → count, for every distinct latency (µs). */
export type Distribution = ReadonlyMap<number, number>;

/** wrk's expected interval (µs) for a run, or null when it corrects nothing (as wrk). */
export function wrkInterval(runtimeUs: number, answers: number, connections: number) {
  const perConnection = Math.floor(answers / connections);
  return perConnection > 0 ? Math.floor(runtimeUs / perConnection) : null;
}

/** wrk's stats_correct, exactly: the distribution wrk prints from the one it timed. */
export function correctLikeWrk(timed: Distribution, interval: number): Map<number, number> {
  const corrected = new Map(timed);
  for (const [value, count] of timed) {
    if (value < interval * 2) continue;
    for (let missing = value - interval; missing > interval; missing -= interval) {
      corrected.set(missing, (corrected.get(missing) ?? 0) + count);
    }
  }
  return corrected;
}

/**
 * The inverse of correctLikeWrk: what wrk timed, from what it printed. The samples wrk adds for
 * a value all lie below it, so going down from the largest value, each value's own count is
 * what is left once the samples added by every larger value are taken off.
 */
export function undoWrkCorrection(printed: Distribution, interval: number): Map<number, number> {
  const added = new Map<number, number>();
  const timed = new Map<number, number>();
  const values = [...printed.keys()].sort((a, b) => b - a);
  const refuse = (): Error =>
    new Error(`not a distribution wrk corrected with interval ${interval}`);
  for (const value of values) {
    const own = (printed.get(value) ?? 0) - (added.get(value) ?? 0);
    if (own < 0) throw refuse();
    if (own === 0) continue;
    timed.set(value, own);
    if (value < interval * 2) continue;
    for (let missing = value - interval; missing > interval; missing -= interval) {
      added.set(missing, (added.get(missing) ?? 0) + own);
    }
  }
  // A sample the correction would have added at a value wrk did not print at all.
  for (const value of added.keys()) if (!printed.has(value)) throw refuse();
  return timed;
}

/** The bench's own timings corrected as wrk would print them (HdrHistogram's correction). */
export function correctedHistogram(
  timed: Histogram,
  runtimeUs: number,
  connections: number,
): Histogram {
  const interval = wrkInterval(runtimeUs, timed.totalCount, connections);
  return interval === null ? timed : timed.copyCorrectedForCoordinatedOmission(interval);
}
