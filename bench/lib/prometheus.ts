// Just enough of the Prometheus text format to read the ledger's own figures: a sample's value
// summed over all label sets, and the difference between two scrapes taken around the measurement.

/** Sum of the values of every sample named exactly `name`, whatever its labels; 0 if absent. */
export function sampleTotal(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total += value;
  }
  return total;
}

export interface HistogramWindow {
  readonly sum: number;
  readonly count: number;
  /** sum / count, or null when nothing was observed in the window. */
  readonly mean: number | null;
}

/** A histogram's sum and count observed between two scrapes. */
export function histogramWindow(before: string, after: string, name: string): HistogramWindow {
  const sum = sampleTotal(after, `${name}_sum`) - sampleTotal(before, `${name}_sum`);
  const count = sampleTotal(after, `${name}_count`) - sampleTotal(before, `${name}_count`);
  return { sum, count, mean: count > 0 ? sum / count : null };
}

/** Counter increments between two scrapes, per value of one label (e.g. result="ok"). */
export function counterWindowByLabel(
  before: string,
  after: string,
  name: string,
  label: string,
): Record<string, number> {
  const read = (text: string): Map<string, number> => {
    const values = new Map<string, number>();
    const pattern = new RegExp(`^${name}\\{[^}]*\\b${label}="([^"]*)"[^}]*\\} (\\S+)$`);
    for (const line of text.split('\n')) {
      const match = pattern.exec(line);
      if (match?.[1] === undefined || match[2] === undefined) continue;
      values.set(match[1], (values.get(match[1]) ?? 0) + Number(match[2]));
    }
    return values;
  };
  const start = read(before);
  const window: Record<string, number> = {};
  for (const [value, total] of read(after)) window[value] = total - (start.get(value) ?? 0);
  return window;
}

/** Cumulative bucket counts (le → count) of a histogram's samples carrying label="value". */
function buckets(text: string, name: string, label: string, value: string): Map<number, number> {
  const counts = new Map<number, number>();
  const prefix = `${name}_bucket{`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix) || !line.includes(`${label}="${value}"`)) continue;
    const le = /\ble="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    const count = Number(line.slice(line.lastIndexOf(' ') + 1));
    counts.set(bound, (counts.get(bound) ?? 0) + count);
  }
  return counts;
}

/**
 * The upper bound (seconds) of the bucket holding quantile `q` (0..1) of a histogram's samples
 * with label="value" observed between two scrapes: "p99 ≤ this"; null when none was observed.
 */
export function bucketQuantileWindow(
  before: string,
  after: string,
  name: string,
  selector: { readonly label: string; readonly value: string },
  q: number,
): number | null {
  const start = buckets(before, name, selector.label, selector.value);
  const end = buckets(after, name, selector.label, selector.value);
  const bounds = [...end.keys()].sort((a, b) => a - b);
  const total =
    (end.get(Number.POSITIVE_INFINITY) ?? 0) - (start.get(Number.POSITIVE_INFINITY) ?? 0);
  if (total <= 0) return null;
  for (const bound of bounds) {
    const below = (end.get(bound) ?? 0) - (start.get(bound) ?? 0);
    if (below >= q * total) return bound;
  }
  return Number.POSITIVE_INFINITY;
}
