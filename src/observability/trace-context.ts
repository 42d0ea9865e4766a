// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header a caller
// traced by OpenTelemetry sends. Read by the HTTP thread for the request's trace id, and by the
// tracing (when on) for the parent of the request's span.

export interface TraceParent {
  /** 32 lower-case hex digits, not all zero. */
  readonly traceId: string;
  /** The caller's span: 16 lower-case hex digits, not all zero. */
  readonly parentId: string;
  readonly sampled: boolean;
}

/** Version, trace id, parent id, flags, and (versions after 00 only) more fields. */
const traceparentPattern = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const allZero = /^0+$/;

/** The header's fields, or undefined if it is absent or invalid (it is then ignored). */
export function parseTraceparent(header: string): TraceParent | undefined {
  const match = traceparentPattern.exec(header);
  if (match === null) return undefined;
  const [, version = '', traceId = '', parentId = '', flags = '', rest] = match;
  // Version ff is forbidden; version 00 has nothing after the flags.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (allZero.test(traceId) || allZero.test(parentId)) return undefined;
  return { traceId, parentId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}
