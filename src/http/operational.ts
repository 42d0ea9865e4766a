// The answers of the operational endpoints (/health/live, /health/ready, /metrics), apart from
// any transport: the uWS server and the node:http health listener both write these, so the two
// ports give the same statuses, bodies and content types.
import { errorBody, errorStatus, type ErrorCode, type ErrorDetails } from '../errors.js';

export interface Readiness {
  readonly ready: boolean;
  readonly details: Readonly<Record<string, string | number | boolean>>;
}

export interface OperationalAnswer {
  readonly status: number;
  readonly body: string;
  readonly contentType: string;
  /** Set on 503 and 429: when to ask again. */
  readonly retryAfterSeconds: number | undefined;
}

const jsonType = 'application/json';
/** Prometheus' text exposition format, version 0.0.4. */
export const metricsContentType = 'text/plain; version=0.0.4; charset=utf-8';

export const liveAnswer: OperationalAnswer = {
  status: 200,
  body: '{"status":"live"}',
  contentType: jsonType,
  retryAfterSeconds: undefined,
};

/** The contract's error body for `code`, with retry-after where the status asks for one. */
export function errorAnswer(
  code: ErrorCode,
  message?: string,
  details?: ErrorDetails,
): OperationalAnswer {
  const status = errorStatus(code);
  return {
    status,
    body: errorBody(code, message, details),
    contentType: jsonType,
    retryAfterSeconds: status === 503 || status === 429 ? 1 : undefined,
  };
}

/** 200 with the details when ready, else 503 `unavailable` with them; never rejects. */
export function readyAnswer(readiness: () => Promise<Readiness>): Promise<OperationalAnswer> {
  return Promise.resolve()
    .then(readiness)
    .then(
      (state): OperationalAnswer =>
        state.ready
          ? {
              status: 200,
              body: JSON.stringify({ status: 'ready', ...state.details }),
              contentType: jsonType,
              retryAfterSeconds: undefined,
            }
          : errorAnswer('unavailable', 'The ledger is not ready.', state.details),
      (error: unknown) => errorAnswer('unavailable', `readiness check failed: ${String(error)}`),
    );
}

/** 200 with the Prometheus text, or 503 `unavailable` if rendering failed; never rejects. */
export function metricsAnswer(render: () => Promise<string>): Promise<OperationalAnswer> {
  return Promise.resolve()
    .then(render)
    .then(
      (text): OperationalAnswer => ({
        status: 200,
        body: text,
        contentType: metricsContentType,
        retryAfterSeconds: undefined,
      }),
      (error: unknown) => errorAnswer('unavailable', `metrics failed: ${String(error)}`),
    );
}
