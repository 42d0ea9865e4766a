// A baseline's answer to one request, as bench/lib/baseline-http.ts writes it (its own file: the
// cart validation in baseline-cart.ts builds answers too).
export interface Answer {
  readonly status: number;
  readonly body: unknown;
  /** Sets `idempotent-replayed: true`, as the ledger does for a repeated idempotency key. */
  readonly replayed?: boolean;
}
