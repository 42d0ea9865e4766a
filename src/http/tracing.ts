// OpenTelemetry spans of a request, drawn on the HTTP thread: the request (a server span, child
// of the caller's W3C traceparent when there is one); the partition's part, from dispatch to the
// answer (its shard's work, or the read view's answer); the group commit that made the change
// durable (timed by the shard, see ShardReply.commit); the reply. Off unless an OTLP endpoint is
// configured; off, nothing of this runs per request. A request without its own x-trace-id takes
// its trace's id as its trace id (request.ts), so the logs, the journal and the events name the
// trace a collector shows.
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import type { CommitTiming } from '../shards/index.js';
import { parseTraceparent } from '../observability/trace-context.js';

/** Epoch milliseconds with the monotonic clock's precision (comparable with the shards'). */
const nowMs = (): number => performance.timeOrigin + performance.now();

export interface TracingOptions {
  readonly serviceName: string;
  readonly version: string;
  /** Share of requests without a sampled parent that are traced, 0..100. */
  readonly samplePercent: number;
  readonly exporter: SpanExporter;
  /** How long spans wait to be sent in a batch (ms). */
  readonly exportDelayMs: number;
}

/** The spans of one request; every method is a no-op after `end`. */
export class RequestSpan {
  private dispatchedMs: number | undefined;
  private repliedMs: number | undefined;
  private ended = false;

  constructor(
    private readonly tracer: Tracer,
    private readonly root: Span,
  ) {}

  /** The trace's id: the caller's traceparent's, or a new one. */
  get traceId(): string {
    return this.root.spanContext().traceId;
  }

  /** The command left for its shard. */
  dispatched(): void {
    this.dispatchedMs = nowMs();
  }

  /** Its shard answered; `commit` is the group commit the answer waited for, if any. */
  replied(commit: CommitTiming | undefined): void {
    if (this.ended || this.dispatchedMs === undefined) return;
    this.repliedMs = nowMs();
    const parent = trace.setSpan(ROOT_CONTEXT, this.root);
    const shard = this.tracer.startSpan(
      'ledger.partition',
      { startTime: this.dispatchedMs },
      parent,
    );
    if (commit !== undefined) {
      const [startedMs, endedMs, rows] = commit;
      const within = trace.setSpan(ROOT_CONTEXT, shard);
      const options = { startTime: startedMs, attributes: { 'ledger.commit.rows': rows } };
      this.tracer.startSpan('ledger.journal.commit', options, within).end(endedMs);
    }
    shard.end(this.repliedMs);
  }

  /** The answer was written with `status`. */
  end(status: number): void {
    if (this.ended) return;
    this.ended = true;
    const endedMs = nowMs();
    if (this.repliedMs !== undefined) {
      const parent = trace.setSpan(ROOT_CONTEXT, this.root);
      this.tracer.startSpan('ledger.reply', { startTime: this.repliedMs }, parent).end(endedMs);
    }
    this.root.setAttribute('http.response.status_code', status);
    if (status >= 500) this.root.setStatus({ code: SpanStatusCode.ERROR });
    this.root.end(endedMs);
  }
}

export class RequestTracing {
  private readonly provider: TracerProvider;
  private readonly tracer: Tracer;

  constructor(options: TracingOptions) {
    this.provider = new TracerProvider({
      resource: resourceFromAttributes({
        'service.name': options.serviceName,
        'service.version': options.version,
      }),
      sampler: new ParentBasedSampler({
        root: new TraceIdRatioBasedSampler(options.samplePercent / 100),
      }),
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: options.exporter,
          scheduledDelayMillis: options.exportDelayMs,
          // Beyond this many spans waiting, new ones are dropped: tracing never holds a request.
          maxQueueSize: 8192,
        }),
      ],
    });
    this.tracer = this.provider.getTracer('inventory-ledger', options.version);
  }

  /**
   * A request of the route at `path` began: its server span, child of a valid `traceparent`,
   * else the root of a new trace. `ownTraceId` (the caller's x-trace-id, '' if none) is kept as
   * an attribute.
   */
  begin(method: string, path: string, traceparent: string, ownTraceId: string): RequestSpan {
    const verb = method.toUpperCase();
    const root = this.tracer.startSpan(
      `${verb} ${path}`,
      { kind: SpanKind.SERVER, startTime: nowMs() },
      remoteParent(traceparent) ?? ROOT_CONTEXT,
    );
    root.setAttribute('http.request.method', verb);
    root.setAttribute('http.route', path);
    if (ownTraceId !== '') root.setAttribute('ledger.trace_id', ownTraceId);
    return new RequestSpan(this.tracer, root);
  }

  /** Sends the spans waiting for their batch now. */
  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  /** Sends what is waiting and stops. */
  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}

/** The caller's span as a remote parent, or undefined if `header` is not a valid traceparent. */
function remoteParent(header: string): Context | undefined {
  const parent = parseTraceparent(header);
  if (parent === undefined) return undefined;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parent.traceId,
    spanId: parent.parentId,
    traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  });
}
