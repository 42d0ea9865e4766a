// When the ledger under test runs with JWT auth (--ledger-env LEDGER_JWT_SECRET=...), every
// request of the bench carries an admin token minted here once, as a real checkout service would
// reuse its token. Used to measure what auth costs on the hot path.
import { SignJWT } from 'jose';

let authorization: string | undefined;

export async function prepareAuth(
  ledgerEnvironment: Readonly<Record<string, string>>,
): Promise<void> {
  const secret = ledgerEnvironment.LEDGER_JWT_SECRET;
  if (secret === undefined || secret === '') return;
  const token = await new SignJWT({ roles: ['admin'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench')
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(secret));
  authorization = `Bearer ${token}`;
}

/** The headers, plus the bench's bearer token when auth is on. */
export function withAuth(headers: Record<string, string>): Record<string, string> {
  return authorization === undefined ? headers : { ...headers, authorization };
}

/** The bearer token's header value when auth is on, else undefined. */
export function authorizationHeader(): string | undefined {
  return authorization;
}
