// --perf-dir records a baseline as it records the ledger: the bench starts the baseline's node
// process with the flags that write V8's JIT dump, in the recording's own directory (not the
// repository's root), and the baseline still finds its code from there and serves. Without a
// recording it runs from the root with no such flag.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBenchArguments } from '../../bench/lib/args.js';
import { Cleanup } from '../../bench/lib/cleanup.js';
import { perfNodeFlags, perfWorkingDirectory } from '../../bench/lib/perf-record.js';
import { systems, type StartContext } from '../../bench/lib/systems.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function contextWith(recording: StartContext['recording']): StartContext {
  const options = parseBenchArguments(['--systems', 'bare-uws']);
  if (options === undefined) throw new Error('the bench arguments did not parse');
  return {
    options,
    root,
    cleanup: new Cleanup(),
    stopNotes: {},
    onSpawned: () => undefined,
    log: () => undefined,
    ...(recording === undefined ? {} : { recording }),
  };
}

const reserve = (baseUrl: string) =>
  fetch(`${baseUrl}/v1/reserve`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      product_id: 'sku-1',
      warehouse_id: 'wh-1',
      quantity: 1,
      idempotency_key: 'recorded-0000000001',
    }),
  });

describe("a baseline under --perf-dir's flags", () => {
  const directory = mkdtempSync(join(tmpdir(), 'ledger-baseline-recording-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('runs in the recording directory, serves, and leaves its JIT dump there', async () => {
    const name = 'bare-uws-hot-sku-1';
    const workingDirectory = perfWorkingDirectory(directory, name);
    const context = contextWith({ nodeFlags: perfNodeFlags(directory, name), workingDirectory });
    const server = await systems['bare-uws'].start(context);
    try {
      expect(server.execArgv).toContain('--perf-prof');
      expect((await reserve(server.baseUrl)).status).toBe(200);
    } finally {
      await server.stop();
      await context.cleanup.run();
    }
    expect(readdirSync(workingDirectory)).toContain(`jit-${server.pid}.dump`);
    // V8's log goes to the one file the flags name, not an isolate log per thread in the root.
    expect(existsSync(join(directory, `${name}.v8.log`))).toBe(true);
  });

  it('runs from the root with no recording flag otherwise', async () => {
    const context = contextWith(undefined);
    const server = await systems['bare-uws'].start(context);
    try {
      expect(server.execArgv.some((flag) => flag.startsWith('--perf'))).toBe(false);
      expect((await reserve(server.baseUrl)).status).toBe(200);
    } finally {
      await server.stop();
      await context.cleanup.run();
    }
    expect(existsSync(join(root, `jit-${server.pid}.dump`))).toBe(false);
  });
});
