// Which systems a bench command runs: --compare runs the ledger and the three baselines its
// targets name, the durable floor (bare-uws-commit) only when named, and a system that keeps no
// stock is never checked for stock nor counted as overselling.
import { describe, expect, it } from 'vitest';
import { parseBenchArguments } from '../../../bench/lib/args.js';
import { scenarioTable, type Median } from '../../../bench/lib/report.js';
import { durableFloorNames, keepsStock } from '../../../bench/lib/system-names.js';
import { journalModeOf } from '../../../bench/lib/floor-commit.js';
import { systems } from '../../../bench/lib/systems.js';

describe('the systems a bench command runs', () => {
  it('runs the ledger alone by default and the four systems with --compare', () => {
    expect(parseBenchArguments([])?.systems).toEqual(['ledger']);
    expect(parseBenchArguments(['--compare'])?.systems).toEqual([
      'ledger',
      'postgres-row-lock',
      'redis-lua',
      'bare-uws',
    ]);
  });

  it('runs the durable floor when it is named, and refuses a name it does not know', () => {
    expect(parseBenchArguments(['--systems', 'ledger,bare-uws-commit'])?.systems).toEqual([
      'ledger',
      'bare-uws-commit',
    ]);
    expect(() => parseBenchArguments(['--systems', 'bare-uws-durable'])).toThrow(/systems/);
  });

  it('takes the floor, with its hop or without or with the journal, as durable and stateless', () => {
    expect(durableFloorNames).toHaveLength(4);
    for (const floor of durableFloorNames.map((name) => systems[name])) {
      expect(floor.durable).toBe(true);
      expect(keepsStock(floor.name)).toBe(false);
    }
    expect(keepsStock(systems['bare-uws'].name)).toBe(false);
    expect(keepsStock(systems.ledger.name)).toBe(true);
  });
});

describe("the floors' journal modes", () => {
  it('reads BARE_UWS_COMMIT_JOURNAL as wal, history or none, and refuses anything else', () => {
    expect(journalModeOf(undefined)).toBeUndefined();
    expect(journalModeOf('')).toBeUndefined();
    expect(journalModeOf('wal')).toBe('wal');
    expect(journalModeOf('history')).toBe('history');
    expect(() => journalModeOf('1')).toThrow(/wal or history/);
  });
});

describe("the report's row of a stateless durable system", () => {
  const median = (system: Median['system'], durable: boolean): Median => ({
    scenario: 'hot-sku',
    system,
    durable,
    runs: 1,
    requestsPerSecondPerRun: [20_000],
    requestsPerSecond: 20_000,
    p50Ms: 2,
    p90Ms: 3,
    p99Ms: 9,
    p999Ms: 16,
    maxMs: 130,
    corrected: { p50Ms: 2, p99Ms: 11, p999Ms: 29, maxMs: 130 },
    serverCores: 0.6,
    postgresCores: 0.2,
    redisCores: 0,
    loadGeneratorCores: 0.6,
    otherCores: 0.05,
    checksPassed: 0,
    checksRun: 0,
    oversellUnits: 0,
    soldUnits: null,
    soldOutAfterSeconds: null,
    problems: 0,
  });

  it('says durable, with no stock to check and no oversell to count', () => {
    const table = scenarioTable([median('bare-uws-commit', true)], 'hot-sku');
    const row = table.split('\n').find((line) => line.startsWith('| bare-uws-commit'));
    expect(row).toMatch(/^\| bare-uws-commit \| yes \|/);
    expect(row).toMatch(/\| n\/a \| n\/a \(no stock\) \|$/);
  });

  it('still says when a stateful system was not checked', () => {
    const table = scenarioTable([median('redis-lua', false)], 'hot-sku');
    const row = table.split('\n').find((line) => line.startsWith('| redis-lua'));
    expect(row).toMatch(/\| \*\*no\*\* \|/);
    expect(row).toMatch(/\| 0 \| not run \|$/);
  });
});
