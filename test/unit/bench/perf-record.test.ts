// `npm run bench -- --perf-dir`: the recording perf-breakdown reads must name each JavaScript
// frame by the code that ran, so the chain is run for real on a small node program: node with the
// bench's flags in the bench's working directory, perf recording it, then perf inject naming the
// frames from V8's JIT dump once the program has ended. Needs Linux perf (and the right to record
// another process: root, or perf_event_paranoid ≤ 1).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  isPostgresRecording,
  nameJitCode,
  perfNodeFlags,
  perfWorkingDirectory,
  postgresRecording,
  rawRecording,
  recordPerf,
} from '../../../bench/lib/perf-record.js';
import { parsePerfScript } from '../../../bench/lib/perf-stacks.js';

const servicesRequired = process.env.LEDGER_REQUIRE_SERVICES === '1';
const perfPresent = spawnSync('perf', ['--version']).status === 0;
if (!perfPresent && servicesRequired) {
  throw new Error('Linux perf is required (LEDGER_REQUIRE_SERVICES=1) but was not found');
}

// One named function does the work, called from a timer loop: it runs as optimized code of its
// own (not inlined into a caller), so its samples must carry its name.
const program = `
function probeWork() {
  let s = 0;
  const end = Date.now() + 5;
  while (Date.now() < end) for (let i = 0; i < 1000; i += 1) s += i * i;
  return s;
}
const stopAt = Date.now() + 2500;
let total = 0;
const tick = () => {
  total += probeWork();
  if (Date.now() < stopAt) setImmediate(tick);
  else if (total < 0) console.log(total);
};
tick();
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(perfPresent)('perf recording of node, frames named from the JIT dump', () => {
  const directory = mkdtempSync(join(tmpdir(), 'ledger-perf-record-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('names the JavaScript frames, and leaves no raw recording or dump behind', async () => {
    const name = 'probe';
    const workingDirectory = perfWorkingDirectory(directory, name);
    const script = join(directory, 'probe.js');
    writeFileSync(script, program);
    const child = spawn(process.execPath, [...perfNodeFlags(directory, name), script], {
      cwd: workingDirectory,
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await sleep(500);
    const recording = recordPerf(rawRecording(directory, name), [child.pid as number]);
    await sleep(1500);
    await recording.stop();
    expect(await exited).toBe(0);

    expect(await nameJitCode(directory, name)).toContain(`${name}.perf.data`);

    expect(readdirSync(directory).sort()).toEqual([
      'probe.jit',
      'probe.js',
      'probe.perf.data',
      'probe.v8.log',
    ]);
    expect(readdirSync(workingDirectory).filter((entry) => entry.endsWith('.dump'))).toEqual([]);
    const script_ = spawnSync(
      'perf',
      ['script', '-i', join(directory, `${name}.perf.data`), '-F', 'pid,tid,ip,sym'],
      { encoding: 'utf8', maxBuffer: 1 << 28 },
    );
    expect(script_.status).toBe(0);
    const samples = parsePerfScript(script_.stdout).filter((sample) => sample.pid === child.pid);
    // 997 a second of the CPU the program got: a full core gives about 1,500 in the 1.5 s, and a
    // machine busy with the rest of the suite less (413 once, in CI beside other runs). A hundred
    // are enough to tell where its time went.
    expect(samples.length).toBeGreaterThan(100);
    const leafJs = samples
      .map((sample) => sample.frames.find((frame) => frame.startsWith('JS:')))
      .filter((frame) => frame !== undefined);
    // Almost all of the program's time is in that function.
    const inProbe = leafJs.filter((frame) => /^JS:.probeWork .*probe\.js/.test(frame));
    expect(inProbe.length).toBeGreaterThan(samples.length / 2);
    // Nothing was read from a /tmp/perf-PID.map: node wrote none.
    expect(existsSync(`/tmp/perf-${child.pid}.map`)).toBe(false);
  }, 30_000);

  it("tells the Postgres backends' recording by its name", () => {
    expect(isPostgresRecording(postgresRecording(directory, 'ledger-hot-sku-1'))).toBe(true);
    expect(isPostgresRecording('DIR/ledger-hot-sku-1.postgres.txt')).toBe(true);
    expect(isPostgresRecording(rawRecording(directory, 'ledger-hot-sku-1'))).toBe(false);
    expect(isPostgresRecording('DIR/ledger-hot-sku-1.perf.data')).toBe(false);
  });

  it('says so when there is no recording to name', async () => {
    expect(await nameJitCode(directory, 'never-recorded')).toBe(
      'no perf recording of never-recorded to name',
    );
  });
});
