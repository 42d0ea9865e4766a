// Admission of a request: who is calling (bearer token), may they do this (role), and are they
// within their rate. Each check answers on the spot when it fails (401, 403, 429).
import type { HttpResponse } from 'uWebSockets.js';
import {
  allows,
  type Authenticator,
  type AuthResult,
  type Permission,
  type Principal,
} from './auth.js';
import type { RateLimiter } from './rate-limit.js';
import { respondError, type Exchange } from './request.js';

export interface Admission {
  readonly authorization: string;
  /** The client's address, read only when rate limiting keys on it (auth off). */
  readonly address: string;
}

export class Gate {
  constructor(
    private readonly auth: Authenticator,
    private readonly limiter: RateLimiter,
  ) {}

  get authEnabled(): boolean {
    return this.auth.enabled;
  }

  /** Reads what admission needs from the request; call it before any await. */
  read(res: HttpResponse, authorization: string): Admission {
    const keyedByAddress = this.limiter.enabled && !this.auth.enabled;
    const address = keyedByAddress ? Buffer.from(res.getRemoteAddressAsText()).toString() : '';
    return { authorization, address };
  }

  /** Calls `next` with the caller if admitted; otherwise answers the exchange itself. */
  admit(
    exchange: Exchange,
    admission: Admission,
    permission: Permission,
    next: (principal: Principal) => void,
  ): void {
    const result = this.auth.check(admission.authorization, Date.now());
    if (result instanceof Promise) {
      result.then(
        (settled) => this.decide(exchange, admission, permission, settled, next),
        (error: unknown) => {
          respondError(exchange, 'unauthenticated', `token check failed: ${String(error)}`);
        },
      );
      return;
    }
    this.decide(exchange, admission, permission, result, next);
  }

  private decide(
    exchange: Exchange,
    admission: Admission,
    permission: Permission,
    result: AuthResult,
    next: (principal: Principal) => void,
  ): void {
    if (!result.ok) {
      respondError(exchange, 'unauthenticated', result.message, undefined, {
        wwwAuthenticate: 'Bearer',
      });
      return;
    }
    if (this.auth.enabled && !allows(result.principal, permission)) {
      const roles = result.principal.roles.join(',') || 'none';
      respondError(exchange, 'forbidden', `Roles [${roles}] may not ${permission}.`);
      return;
    }
    const client = this.auth.enabled ? `sub:${result.principal.subject}` : admission.address;
    const waitSeconds = this.limiter.take(client, Date.now());
    if (waitSeconds > 0) {
      respondError(exchange, 'rate_limited', undefined, undefined, {
        retryAfterSeconds: waitSeconds,
      });
      return;
    }
    next(result.principal);
  }

  /** For the WebSocket upgrade: the same checks, answering true/false instead of replying. */
  check(authorization: string, permission: Permission): boolean | Promise<boolean> {
    const result = this.auth.check(authorization, Date.now());
    const decide = (settled: AuthResult) =>
      settled.ok && (!this.auth.enabled || allows(settled.principal, permission));
    return result instanceof Promise ? result.then(decide, () => false) : decide(result);
  }
}
