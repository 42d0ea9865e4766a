// Windows over cumulative histograms (the HTTP thread's and the shards' prom-client histograms):
// what was observed between two readings of their counts, and its quantiles, computed the way
// Prometheus' histogram_quantile does. Pure: the live page's summary takes the readings, only
// when it is asked for one.

/** One histogram at one moment: bucket upper bound (Infinity for +Inf) -> observations ≤ it. */
export type Buckets = ReadonlyMap<number, number>;

/** The parts of prom-client's JSON form (`getMetricsAsJSON`, `metric.get()`) read here. */
export interface MetricJson {
  readonly name: string;
  readonly values: readonly {
    readonly metricName?: string;
    readonly labels: Readonly<Record<string, string | number | undefined>>;
    readonly value: number;
  }[];
}

/**
 * The cumulative buckets of histogram `name` in `metrics`, summed over every label set and every
 * registry it appears in (each shard has its own): the whole node's histogram.
 */
export function bucketsOf(metrics: readonly MetricJson[], name: string): Buckets {
  const buckets = new Map<number, number>();
  for (const metric of metrics) {
    if (metric.name !== name) continue;
    for (const { metricName, labels, value } of metric.values) {
      if (metricName !== `${name}_bucket` || labels.le === undefined) continue;
      const bound = labels.le === '+Inf' ? Infinity : Number(labels.le);
      buckets.set(bound, (buckets.get(bound) ?? 0) + value);
    }
  }
  return buckets;
}

/**
 * What was observed after `earlier` up to `later`; undefined when a count went down (a shard
 * restarted with fresh counters): the difference would then mean nothing.
 */
export function difference(later: Buckets, earlier: Buckets): Buckets | undefined {
  const delta = new Map<number, number>();
  for (const [bound, count] of later) {
    const change = count - (earlier.get(bound) ?? 0);
    if (change < 0) return undefined;
    delta.set(bound, change);
  }
  return delta;
}

/** Observations in all: the +Inf bucket's count. */
export function countOf(buckets: Buckets): number {
  return buckets.get(Infinity) ?? 0;
}

/**
 * The `q` quantile (0 < q ≤ 1) of the observations, interpolated linearly inside its bucket;
 * undefined with no observations. One that falls in the +Inf bucket is the largest finite
 * bound (Prometheus answers the same: the histogram knows nothing above it).
 */
export function quantileOf(buckets: Buckets, q: number): number | undefined {
  const total = countOf(buckets);
  if (total === 0) return undefined;
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bound of bounds) {
    const count = buckets.get(bound) ?? 0;
    if (count >= rank) {
      if (bound === Infinity) return lowerBound;
      if (count === lowerCount) return bound;
      return lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / (count - lowerCount);
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}

/** Histograms read at one moment, by name. */
export interface Reading {
  readonly atMs: number;
  readonly histograms: ReadonlyMap<string, Buckets>;
}

export interface WindowBounds {
  /** How far back the baseline of a window may be. */
  readonly windowMs: number;
  /** Readings kept are at least this far apart. */
  readonly spacingMs: number;
  /** A baseline at least this old: a shorter window says too little to be worth showing. */
  readonly windowMinMs: number;
  readonly readingsMax: number;
}

/**
 * The readings a summary compares with: each reading it is given is kept if the last kept one is
 * at least `spacingMs` older, and dropped once older than `windowMs`. The baseline of a reading
 * is the oldest kept one within the window; the start of the process (every count zero) counts
 * as one while it is within the window too.
 */
export class ReadingWindow {
  private readonly kept: Reading[] = [];
  private readonly start: Reading;

  constructor(
    startMs: number,
    private readonly bounds: WindowBounds,
  ) {
    this.start = { atMs: startMs, histograms: new Map() };
  }

  /** The baseline to compare `now` with (undefined: none old enough yet); then keeps `now`. */
  baselineFor(now: Reading): Reading | undefined {
    const { windowMs, spacingMs, windowMinMs, readingsMax } = this.bounds;
    while (this.kept.length > 0 && now.atMs - (this.kept[0] as Reading).atMs > windowMs) {
      this.kept.shift();
    }
    const candidates = [this.start, ...this.kept].filter((reading) => {
      const ageMs = now.atMs - reading.atMs;
      return ageMs >= windowMinMs && ageMs <= windowMs;
    });
    const last = this.kept[this.kept.length - 1];
    if (last === undefined || now.atMs - last.atMs >= spacingMs) {
      this.kept.push(now);
      if (this.kept.length > readingsMax) this.kept.shift();
    }
    return candidates[0];
  }
}
