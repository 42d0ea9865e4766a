// What one load-generator thread keeps for `--timeline`: per second of the measured window, the
// latencies of the requests completed in it (an HDR histogram each), and the send time and
// latency of every request slower than `slowRequestMs`. The thread's own GCs and stalls go to a
// timeline file beside the ledger's (`<prefix>.load-<thread>.jsonl`), on the same clock: a load
// thread that stopped is a cause of latency too. Recording a request is one histogram update.
import * as hdr from 'hdr-histogram-js';
import { Timeline, timelineNow, timelinePath } from '../../src/observability/timeline.js';

/** Requests at least this slow are kept one by one (send time, latency). */
export const slowRequestMs = 20;
/** At most this many slow requests are kept per thread (the slowest are what matters). */
const slowRequestsMax = 50_000;

export interface LoadTimelineResult {
  /** Per second of the measured window: latencies (µs) of the requests completed in it. */
  readonly seconds: readonly string[];
  /** [sent at (epoch ms), latency ms] of every request at least `slowRequestMs` long. */
  readonly slow: readonly (readonly [number, number])[];
}

function secondHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 2,
    useWebAssembly: false,
  });
}

export class LoadTimeline {
  private readonly seconds: hdr.Histogram[];
  private readonly slow: [number, number][] = [];
  private readonly timeline: Timeline;

  /** `measureFromMs`: epoch ms the measured window starts at; it lasts `durationSeconds`. */
  constructor(
    prefix: string,
    threadIndex: number,
    private readonly measureFromMs: number,
    durationSeconds: number,
  ) {
    this.seconds = Array.from({ length: durationSeconds }, secondHistogram);
    this.timeline = new Timeline(timelinePath(prefix, `load-${threadIndex}`));
    this.timeline.start(`load-${threadIndex}`);
  }

  /** A request answered; `startedMs` and `doneMs` are this thread's performance.now(). */
  answered(startedMs: number, doneMs: number): void {
    const latencyMs = doneMs - startedMs;
    const doneAtMs = performance.timeOrigin + doneMs;
    const second = Math.floor((doneAtMs - this.measureFromMs) / 1000);
    const histogram = this.seconds[second];
    if (histogram === undefined) return;
    histogram.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
    if (latencyMs >= slowRequestMs && this.slow.length < slowRequestsMax) {
      this.slow.push([performance.timeOrigin + startedMs, latencyMs]);
    }
  }

  finish(): LoadTimelineResult {
    this.timeline.record('end', timelineNow(), {});
    this.timeline.stop();
    return {
      seconds: this.seconds.map((histogram) => hdr.encodeIntoCompressedBase64(histogram)),
      slow: this.slow,
    };
  }
}
