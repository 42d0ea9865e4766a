// A histogram by one label, counted in plain arrays on the hot path and handed to prom-client
// only when it is read (a scrape, the live summary).
//
// Every reserve answered is observed, on the HTTP thread. prom-client's own observe validates the
// labels and hashes them into a key on every call, even through a labelled child found once: 399
// ns a reserve (inc and observe) against 72 here (bench/micro/hot-paths.ts), and 1.1–1.2 µs an
// answer on the HTTP thread of the hot-SKU bench under load (bench/perf-breakdown.ts). Here an
// observation finds its bucket and adds to three numbers.
import client from 'prom-client';

/** One label value's counts: per bucket (not cumulative, the last is +Inf), sum and count. */
export class TallySeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly label: string,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let bucket = 0;
    while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket += 1;
    this.counts[bucket] = (this.counts[bucket] as number) + 1;
    this.sum += value;
    this.count += 1;
  }
}

export interface TalliedHistogramConfiguration {
  readonly name: string;
  readonly help: string;
  readonly labelName: string;
  readonly buckets: readonly number[];
  readonly registers: readonly client.Registry[];
}

type Value = client.MetricValueWithName<string>;

/** prom-client's types name a metric's type by an enum; its objects carry the word itself. */
const histogramType = 'histogram' as unknown as client.MetricType;

/**
 * A prom-client Histogram as scrapes and the registry see it (name, help, type, registration,
 * `get`), whose values come from its series. Observe through `series(label).observe(value)`:
 * prom-client's own `observe` and `labels` are not counted here.
 */
export class TalliedHistogram extends client.Histogram<string> {
  private readonly metricName: string;
  private readonly metricHelp: string;
  private readonly bounds: readonly number[];
  private readonly labelName: string;
  private readonly byLabel = new Map<string, TallySeries>();

  constructor(configuration: TalliedHistogramConfiguration) {
    const bounds = [...configuration.buckets].sort((a, b) => a - b);
    super({
      name: configuration.name,
      help: configuration.help,
      labelNames: [configuration.labelName],
      buckets: bounds,
      registers: [...configuration.registers],
    });
    this.metricName = configuration.name;
    this.metricHelp = configuration.help;
    this.bounds = bounds;
    this.labelName = configuration.labelName;
  }

  /** The series of one label value, made at its first use (the values are a bounded set). */
  series(label: string): TallySeries {
    let series = this.byLabel.get(label);
    if (series === undefined) {
      series = new TallySeries(label, this.bounds);
      this.byLabel.set(label, series);
    }
    return series;
  }

  /** Every label value's series, in the order they were first used. */
  allSeries(): IterableIterator<TallySeries> {
    return this.byLabel.values();
  }

  override get(): Promise<client.MetricObjectWithValues<Value>> {
    return Promise.resolve(this.read());
  }

  /** prom-client's text rendering reads this; the same values as `get`. */
  getForPromString(): Promise<client.MetricObjectWithValues<Value>> {
    return this.get();
  }

  /** The series as prom-client's own histogram reports them: cumulative buckets, sum, count. */
  private read(): client.MetricObjectWithValues<Value> {
    const values: Value[] = [];
    const name = this.metricName;
    const bucketName = `${name}_bucket`;
    for (const series of this.byLabel.values()) {
      const label = { [this.labelName]: series.label };
      let cumulative = 0;
      this.bounds.forEach((bound, index) => {
        cumulative += series.counts[index] as number;
        values.push({ labels: { le: bound, ...label }, value: cumulative, metricName: bucketName });
      });
      values.push(
        { labels: { le: '+Inf', ...label }, value: series.count, metricName: bucketName },
        { labels: label, value: series.sum, metricName: `${name}_sum` },
        { labels: label, value: series.count, metricName: `${name}_count` },
      );
    }
    return {
      name,
      help: this.metricHelp,
      type: histogramType,
      values,
      aggregator: 'sum',
      collect: () => undefined,
    };
  }

  override reset(): void {
    // prom-client's constructor resets the metric before this class's fields exist.
    (this.byLabel as Map<string, TallySeries> | undefined)?.clear();
  }
}
