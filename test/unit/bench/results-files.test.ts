// Where the benches keep their results (bench/lib/results-files.ts): one name scheme for all.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  fileStamp,
  oneRunAnswers,
  recordedRunAnswers,
  resultsBase,
  writeRunFiles,
} from '../../../bench/lib/results-files.js';

describe('bench results files', () => {
  const roots: string[] = [];
  const scratchRoot = (): string => {
    const root = mkdtempSync(join(tmpdir(), 'results-files-'));
    roots.push(root);
    return root;
  };
  afterEach(() => {
    for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
  });

  it('names a run by its bench and its start, colons and dots as dashes', () => {
    expect(fileStamp('2026-12-05T21:23:25.280Z')).toBe('2026-12-05T21-23-25-280Z');
    const root = scratchRoot();
    expect(resultsBase(root, 'pairs', '2026-12-05T21:23:25.280Z')).toBe(
      join(root, 'bench', 'results', 'pairs-2026-12-05T21-23-25-280Z'),
    );
    expect(readdirSync(join(root, 'bench', 'results'))).toEqual([]);
  });

  it('writes the record as JSON and the report as markdown, each ending in a newline', () => {
    const root = scratchRoot();
    const record = { bench: 'restart', figures: [1.5, 2] };
    const written = writeRunFiles(root, 'restart', '2026-12-05T00:00:00.000Z', record, '# r');
    expect(written.base).toBe(join(root, 'bench', 'results', 'restart-2026-12-05T00-00-00-000Z'));
    expect(written.json).toBe(`${written.base}.json`);
    expect(written.md).toBe(`${written.base}.md`);
    expect(JSON.parse(readFileSync(written.json, 'utf8'))).toEqual(record);
    expect(readFileSync(written.json, 'utf8').endsWith('}\n')).toBe(true);
    expect(readFileSync(written.md, 'utf8')).toBe('# r\n');
    writeRunFiles(root, 'erp-sync', '2026-12-05T00:00:01.000Z', record, '# e\n');
    expect(
      readFileSync(join(root, 'bench/results/erp-sync-2026-12-05T00-00-01-000Z.md'), 'utf8'),
    ).toBe('# e\n');
  });

  it('writes no markdown when given none', () => {
    const root = scratchRoot();
    const written = writeRunFiles(root, 'pairs', '2026-12-05T00:00:00.000Z', { a: 1 });
    expect('md' in written).toBe(false);
    expect(readdirSync(join(root, 'bench', 'results'))).toEqual([
      'pairs-2026-12-05T00-00-00-000Z.json',
    ]);
  });

  it("reads back a one-run file's answers, measured and warm-up, and refuses several runs", () => {
    const path = join(scratchRoot(), 'run.json');
    const run = { statusCounts: { 200: 900, 409: 50 }, warmupStatusCounts: { 200: 120 } };
    writeFileSync(path, JSON.stringify({ runs: [run] }));
    expect(oneRunAnswers(path)).toEqual({ measured: 950, warmup: 120 });
    writeFileSync(path, JSON.stringify({ runs: [run, run] }));
    expect(() => oneRunAnswers(path)).toThrow(/one run wanted, not 2/);
  });

  it("reads a recording's run by the recording's name, among the command's runs", () => {
    const path = join(scratchRoot(), 'runs.json');
    const run = (system: string, number: number, ok: number) => ({
      system,
      scenario: 'hot-sku',
      run: number,
      statusCounts: { 200: ok },
      warmupStatusCounts: { 200: 10 },
    });
    const runs = [run('bare-uws-commit-wal', 1, 700), run('bare-uws-commit-journal', 1, 500)];
    runs.push(run('bare-uws-commit-journal', 2, 600));
    writeFileSync(path, JSON.stringify({ runs }));
    const recordings = '/tmp/perf/bare-uws-commit-journal-hot-sku';
    expect(recordedRunAnswers(path, `${recordings}-1.perf.data`)).toEqual({
      measured: 500,
      warmup: 10,
    });
    // The Postgres backends' recording of the same run, and its kept `perf script`.
    expect(recordedRunAnswers(path, `${recordings}-2.postgres.perf.data`).measured).toBe(600);
    expect(recordedRunAnswers(path, `${recordings}-2.postgres.txt`).measured).toBe(600);
    expect(() => recordedRunAnswers(path, `${recordings}-3.perf.data`)).toThrow(
      /no run named bare-uws-commit-journal-hot-sku-3/,
    );
  });
});
