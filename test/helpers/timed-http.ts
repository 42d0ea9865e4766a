// One HTTP exchange with the ledger, timed from just before the request leaves to just after the
// answer is read: the interval a linearizability check places the operation in.
export interface TimedReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly text: string;
  /** The `idempotent-replayed: true` header. */
  readonly replayed: boolean;
  readonly invokeMs: number;
  readonly responseMs: number;
}

export interface TimedCall {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

export async function timedCall(
  baseUrl: string,
  call: TimedCall,
  signal?: AbortSignal,
): Promise<TimedReply> {
  const init: RequestInit = { method: call.method };
  if (signal !== undefined) init.signal = signal;
  if (call.body !== undefined) {
    init.body = JSON.stringify(call.body);
    init.headers = { 'content-type': 'application/json' };
  }
  const invokeMs = Date.now();
  const response = await fetch(`${baseUrl}${call.path}`, init);
  const text = await response.text();
  const responseMs = Date.now();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = {};
  }
  const replayed = response.headers.get('idempotent-replayed') === 'true';
  return { status: response.status, body, text, replayed, invokeMs, responseMs };
}
