// Bearer-token auth (JWT via jose): HS256 with a shared secret, or RS256/ES256 with a PEM public
// key or a JWKS file. Roles come from the `roles` claim (array) or a `role` string. Verified
// tokens are cached until they expire, so a checkout service reusing one token pays for the
// signature check once, not on every request of the hot path. jose is loaded only when auth is
// configured (`Authenticator.open`): a ledger without auth starts without it.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import { authCacheEntriesMax, authClockToleranceSeconds } from '../limits.js';
import { OldestFirst } from '../actors/index.js';

export type Role = 'checkout' | 'admin' | 'reader';
export type Permission = 'reserve' | 'confirm' | 'release' | 'adjust' | 'read' | 'admin';

const grants: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  reader: new Set(['read']),
  checkout: new Set(['reserve', 'confirm', 'release', 'read']),
  admin: new Set(['reserve', 'confirm', 'release', 'adjust', 'read', 'admin']),
};

export interface Principal {
  readonly subject: string;
  readonly roles: readonly Role[];
}

export type AuthResult =
  | { readonly ok: true; readonly principal: Principal }
  | { readonly ok: false; readonly message: string };

export const anonymous: Principal = { subject: '', roles: [] };

/** The answer with auth off: one shared object, not an allocation per request. */
const admittedAnonymously: AuthResult = { ok: true, principal: anonymous };

export function allows(principal: Principal, permission: Permission): boolean {
  return principal.roles.some((role) => grants[role].has(permission));
}

export interface AuthSettings {
  readonly jwtSecret: string | undefined;
  readonly jwtPublicKeyPath: string | undefined;
}

/** What the authenticator uses of jose. */
type Jose = typeof import('jose');

interface Verifier {
  readonly key: Uint8Array | KeyObject | JWTVerifyGetKey;
  readonly algorithms: string[];
  readonly jwtVerify: Jose['jwtVerify'];
}

interface CachedToken {
  readonly principal: Principal;
  readonly expiresAtMs: number;
}

async function loadVerifier(settings: AuthSettings): Promise<Verifier | undefined> {
  const { jwtSecret, jwtPublicKeyPath } = settings;
  if (jwtSecret !== undefined) {
    const { jwtVerify } = await import('jose');
    return { key: new TextEncoder().encode(jwtSecret), algorithms: ['HS256'], jwtVerify };
  }
  if (jwtPublicKeyPath === undefined) return undefined;
  const { createLocalJWKSet, jwtVerify } = await import('jose');
  const text = readFileSync(jwtPublicKeyPath, 'utf8');
  if (text.trimStart().startsWith('{')) {
    return { key: createLocalJWKSet(JSON.parse(text)), algorithms: ['RS256', 'ES256'], jwtVerify };
  }
  const key = createPublicKey(text);
  const algorithm = key.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256';
  return { key, algorithms: [algorithm], jwtVerify };
}

function rolesOf(payload: JWTPayload): Role[] {
  const raw = Array.isArray(payload.roles) ? payload.roles : [payload.role];
  return raw.filter(
    (role): role is Role => role === 'checkout' || role === 'admin' || role === 'reader',
  );
}

export class Authenticator {
  private readonly cache = new Map<string, CachedToken>();
  private readonly oldest = new OldestFirst(this.cache);

  private constructor(private readonly verifier: Verifier | undefined) {}

  /** An authenticator for `settings`: with neither a secret nor a key, auth is off. */
  static async open(settings: AuthSettings): Promise<Authenticator> {
    return new Authenticator(await loadVerifier(settings));
  }

  get enabled(): boolean {
    return this.verifier !== undefined;
  }

  /**
   * Checks an `authorization` header. Answers synchronously when it can (auth off, header
   * missing or malformed, token cached); only a token not seen before costs an async verify.
   */
  check(header: string, nowMs: number): AuthResult | Promise<AuthResult> {
    if (this.verifier === undefined) return admittedAnonymously;
    if (!header.startsWith('Bearer ') && !header.startsWith('bearer ')) {
      return { ok: false, message: 'An authorization: Bearer <token> header is required.' };
    }
    const token = header.slice(7).trim();
    const cached = this.cache.get(token);
    if (cached !== undefined) {
      if (cached.expiresAtMs > nowMs) return { ok: true, principal: cached.principal };
      this.cache.delete(token);
    }
    return this.verify(token, this.verifier, nowMs);
  }

  private async verify(token: string, verifier: Verifier, nowMs: number): Promise<AuthResult> {
    try {
      const options = {
        algorithms: verifier.algorithms,
        requiredClaims: ['exp'],
        clockTolerance: authClockToleranceSeconds,
        currentDate: new Date(nowMs),
      };
      const key = verifier.key;
      const { payload } =
        typeof key === 'function'
          ? await verifier.jwtVerify(token, key, options)
          : await verifier.jwtVerify(token, key, options);
      const principal: Principal = { subject: payload.sub ?? '', roles: rolesOf(payload) };
      this.remember(token, principal, (payload.exp as number) * 1000);
      return { ok: true, principal };
    } catch (error) {
      // The reason names the check that failed (expired, bad signature); never the token.
      const reason = error instanceof Error ? error.message : 'invalid token';
      return { ok: false, message: `The bearer token is not valid: ${reason}` };
    }
  }

  private remember(token: string, principal: Principal, expiresAtMs: number): void {
    if (this.cache.size >= authCacheEntriesMax) this.oldest.forget();
    this.cache.set(token, { principal, expiresAtMs });
  }
}
