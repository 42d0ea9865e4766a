// Before the suite: builds dist/ once (the ledger processes the tests start run the compiled
// code, exactly as `npm start` does); and on a machine without a reachable Postgres (a fresh
// laptop) starts the embedded Postgres `npm start` uses, so the Postgres-backed tests run
// against it instead of being skipped. CI (LEDGER_REQUIRE_SERVICES=1) uses its real service.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { postgresReachable, servicesRequired } from './services.js';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  // npm run build: the compiler, then the live page's files copied beside the compiled code.
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (servicesRequired || (await postgresReachable())) return undefined;
  const { startEmbeddedPostgres } = await import('../../src/persistence/embedded/index.js');
  const handle = await startEmbeddedPostgres({
    dataDir: join(root, 'data', 'test-postgres'),
    log: (message) => console.log(message),
  });
  // The test workers start after this and inherit it: they make their databases there.
  const admin = new URL(handle.url);
  admin.pathname = '/postgres';
  process.env.TEST_DATABASE_URL = admin.toString();
  console.log(`no Postgres reachable: the tests use the embedded one on port ${handle.port}`);
  return () => handle.stop();
}
