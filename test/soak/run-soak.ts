// Runs the long version of the proof tests (SOAK=1: >= 1000 kill -9 cycles, >= 10 minutes of
// model runs, more fault rounds and hostile inputs; each knob overridable, see
// test/helpers/soak.ts) and prints what each one did as a table. Extra arguments go to vitest.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const files = [
  'test/model',
  'test/property/model-vs-actor.test.ts',
  'test/property/http-model.test.ts',
  'test/property/stock-model-http.property.test.ts',
  'test/crash/kill-matrix.test.ts',
  'test/faults',
  'test/hostile',
  'test/sim',
];

interface Row {
  readonly test: string;
  readonly seconds: number;
  readonly counts: Record<string, number>;
}

const summaryFile = join(tmpdir(), `ledger-soak-${process.pid}.jsonl`);
rmSync(summaryFile, { force: true });
const startedMs = Date.now();
const result = spawnSync(
  process.execPath,
  ['node_modules/vitest/vitest.mjs', 'run', ...files, ...process.argv.slice(2)],
  {
    stdio: 'inherit',
    env: { ...process.env, SOAK: process.env.SOAK ?? '1', SOAK_SUMMARY_FILE: summaryFile },
  },
);
const rows: Row[] = existsSync(summaryFile)
  ? readFileSync(summaryFile, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Row)
  : [];
rmSync(summaryFile, { force: true });

const table = [
  ['test', 'seconds', 'what it did'],
  ...rows.map((row) => [
    row.test,
    row.seconds.toFixed(1),
    Object.entries(row.counts)
      .map(([name, count]) => `${name}=${count}`)
      .join(' '),
  ]),
];
const widths = [0, 1].map((column) =>
  Math.max(...table.map((cells) => cells[column]?.length ?? 0)),
);
const line = (cells: string[]) =>
  `| ${cells[0]?.padEnd(widths[0] ?? 0)} | ${cells[1]?.padStart(widths[1] ?? 0)} | ${cells[2]} |`;
const rule = `|-${'-'.repeat(widths[0] ?? 0)}-|-${'-'.repeat(widths[1] ?? 0)}-|-------------|`;
const [head, ...body] = table.map(line);
process.stdout.write(`\nsoak summary (${((Date.now() - startedMs) / 1000).toFixed(0)} s wall)\n`);
process.stdout.write(`${[head, rule, ...body].join('\n')}\n`);
process.stdout.write(`vitest exit code: ${result.status}\n`);
process.exit(result.status ?? 1);
