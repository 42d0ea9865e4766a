// Small HTTP client for the ledger's JSON API.
export interface JsonResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
  readonly text: string;
}

export async function request(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers = { 'content-type': 'application/json', ...headers };
  }
  const response = await fetch(`${baseUrl}${path}`, init);
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = {};
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

export const post = (
  baseUrl: string,
  path: string,
  body: unknown,
  headers?: Record<string, string>,
) => request(baseUrl, 'POST', path, body, headers);

export const get = (baseUrl: string, path: string, headers?: Record<string, string>) =>
  request(baseUrl, 'GET', path, undefined, headers);

let keyCounter = 0;
/** A valid, unique idempotency key (16+ printable characters). */
export function newKey(tag = 'k'): string {
  keyCounter += 1;
  return `${tag}-${process.pid}-${Date.now()}-${keyCounter}`.padEnd(16, '0');
}
