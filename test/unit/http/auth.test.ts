// Proves token checks with real signatures (jose): HS256 secrets, RS256/ES256 PEM keys and JWKS
// files; exp is required and enforced; roles come from `roles` or `role`; cached tokens expire.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator, allows, type AuthResult } from '../../../src/http/auth.js';
import { authCacheEntriesMax } from '../../../src/limits.js';

const secret = 'a-test-secret-that-is-at-least-32-bytes-long';
const now = () => Math.floor(Date.now() / 1000);

async function hs256(claims: JWTPayload, key = secret, expSeconds: number | null = 300) {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('user-1');
  if (expSeconds !== null) jwt = jwt.setExpirationTime(now() + expSeconds);
  return jwt.sign(new TextEncoder().encode(key));
}

async function check(auth: Authenticator, token: string): Promise<AuthResult> {
  return auth.check(`Bearer ${token}`, Date.now());
}

const auth = await Authenticator.open({ jwtSecret: secret, jwtPublicKeyPath: undefined });

describe('Authenticator with an HS256 secret', () => {
  it('accepts a valid token and reads roles from the roles array or the role string', async () => {
    const fromArray = await check(auth, await hs256({ roles: ['checkout', 'unknown-role'] }));
    expect(fromArray).toEqual({ ok: true, principal: { subject: 'user-1', roles: ['checkout'] } });
    const fromString = await check(auth, await hs256({ role: 'admin' }));
    expect(fromString.ok && fromString.principal.roles).toEqual(['admin']);
  });

  it('refuses a missing header, a non-bearer scheme, a bad signature, no exp and an expired token', async () => {
    expect(auth.check('', Date.now())).toMatchObject({ ok: false });
    expect(auth.check('Basic dXNlcjpwYXNz', Date.now())).toMatchObject({ ok: false });
    expect(
      await check(auth, await hs256({ role: 'admin' }, 'another-secret-of-at-least-32-bytes!!')),
    ).toMatchObject({
      ok: false,
    });
    expect(await check(auth, await hs256({ role: 'admin' }, secret, null))).toMatchObject({
      ok: false,
    });
    expect(await check(auth, await hs256({ role: 'admin' }, secret, -60))).toMatchObject({
      ok: false,
    });
  });

  it('answers a token it verified before synchronously, from its cache', async () => {
    const token = await hs256({ role: 'reader' });
    await check(auth, token);
    const again = auth.check(`Bearer ${token}`, Date.now());
    expect(again).not.toBeInstanceOf(Promise);
    expect(again).toMatchObject({ ok: true });
    // Past its exp the cached entry no longer counts.
    const later = await auth.check(`Bearer ${token}`, Date.now() + 3_600_000);
    expect(later).toMatchObject({ ok: false });
  });

  it('keeps at most its bound of tokens, forgetting the oldest first', async () => {
    const bounded = await Authenticator.open({ jwtSecret: secret, jwtPublicKeyPath: undefined });
    // Distinct tokens (their ids), as many as the bound and then three more.
    const tokens = await Promise.all(
      Array.from({ length: authCacheEntriesMax + 3 }, (_, index) =>
        hs256({ role: 'reader', jti: `token-${index}` }),
      ),
    );
    const cached = (token: string): boolean =>
      !(bounded.check(`Bearer ${token}`, Date.now()) instanceof Promise);
    for (const token of tokens.slice(0, authCacheEntriesMax)) await check(bounded, token);
    expect(cached(tokens[0] as string)).toBe(true);
    // Past the bound, each new token pushes out the oldest: the first, then the second, third.
    for (const token of tokens.slice(authCacheEntriesMax)) await check(bounded, token);
    // (A token not cached is verified again, and cached then: the evicted ones are asked last.)
    expect([tokens[3] as string, ...tokens.slice(-3)].map(cached)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(tokens.slice(0, 3).map(cached)).toEqual([false, false, false]);
  });

  it('is on; with no key configured it is off and lets everyone through as anonymous', async () => {
    expect(auth.enabled).toBe(true);
    const off = await Authenticator.open({ jwtSecret: undefined, jwtPublicKeyPath: undefined });
    expect(off.enabled).toBe(false);
    expect(off.check('', Date.now())).toEqual({ ok: true, principal: { subject: '', roles: [] } });
  });
});

describe('Authenticator with public keys', () => {
  let directory = '';

  beforeAll(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'ledger-keys-'));
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  for (const alg of ['RS256', 'ES256'] as const) {
    it(`verifies ${alg} tokens against a PEM key file and a JWKS file`, async () => {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const pemFile = path.join(directory, `${alg}.pem`);
      await writeFile(pemFile, await exportSPKI(publicKey));
      const jwksFile = path.join(directory, `${alg}.jwks.json`);
      const jwk = { ...(await exportJWK(publicKey)), kid: `k-${alg}`, alg };
      await writeFile(jwksFile, JSON.stringify({ keys: [jwk] }));
      const token = await new SignJWT({ roles: ['reader'] })
        .setProtectedHeader({ alg, kid: `k-${alg}` })
        .setSubject('svc')
        .setExpirationTime(now() + 60)
        .sign(privateKey);
      for (const file of [pemFile, jwksFile]) {
        const auth = await Authenticator.open({ jwtSecret: undefined, jwtPublicKeyPath: file });
        expect(await check(auth, token)).toEqual({
          ok: true,
          principal: { subject: 'svc', roles: ['reader'] },
        });
      }
      const hsToken = await hs256({ role: 'admin' });
      const pemAuth = await Authenticator.open({ jwtSecret: undefined, jwtPublicKeyPath: pemFile });
      expect(await check(pemAuth, hsToken)).toMatchObject({ ok: false });
    });
  }
});

describe('role grants', () => {
  it('gives reader only reads, checkout the hold lifecycle, admin everything', () => {
    const as = (role: 'reader' | 'checkout' | 'admin') => ({ subject: 's', roles: [role] });
    expect(allows(as('reader'), 'read')).toBe(true);
    expect(allows(as('reader'), 'reserve')).toBe(false);
    expect(
      ['reserve', 'confirm', 'release', 'read'].every((p) => allows(as('checkout'), p as 'read')),
    ).toBe(true);
    expect(allows(as('checkout'), 'adjust')).toBe(false);
    expect(allows(as('admin'), 'adjust')).toBe(true);
    expect(allows(as('admin'), 'admin')).toBe(true);
    expect(allows({ subject: 's', roles: [] }, 'read')).toBe(false);
  });
});
