// Response times in fixed 10 µs buckets. autocannon's own histogram only resolves whole
// milliseconds, too coarse for a path whose median may be a few ms; this one has bounded memory
// whatever the run length (4 MiB) and exact percentiles to the bucket width.

/** Bucket width. */
const bucketMicroseconds = 10;
/** Slowest response time with its own bucket; autocannon times a request out at 10 s anyway. */
const trackedMillisecondsMax = 10_000;
const bucketCount = (trackedMillisecondsMax * 1000) / bucketMicroseconds;

export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export class LatencyHistogram {
  // The last bucket also holds every time beyond trackedMillisecondsMax.
  private readonly buckets = new Uint32Array(bucketCount + 1);
  private count = 0;
  private sumMs = 0;
  private maxMs = 0;

  record(milliseconds: number): void {
    const bucket = Math.min(Math.floor((milliseconds * 1000) / bucketMicroseconds), bucketCount);
    this.buckets[bucket] = (this.buckets[bucket] ?? 0) + 1;
    this.count += 1;
    this.sumMs += milliseconds;
    if (milliseconds > this.maxMs) this.maxMs = milliseconds;
  }

  /** The upper edge of the bucket holding the q-quantile (nearest-rank), in ms. */
  private quantileMs(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let bucket = 0; bucket <= bucketCount; bucket += 1) {
      seen += this.buckets[bucket] ?? 0;
      if (seen >= rank) return Math.min(((bucket + 1) * bucketMicroseconds) / 1000, this.maxMs);
    }
    return this.maxMs;
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      meanMs: this.count > 0 ? this.sumMs / this.count : 0,
      p50Ms: this.quantileMs(0.5),
      p90Ms: this.quantileMs(0.9),
      p99Ms: this.quantileMs(0.99),
      p999Ms: this.quantileMs(0.999),
      maxMs: this.maxMs,
    };
  }
}
