// Proves the journal link never lets two queries overlap on its connection (pg would queue the
// second itself and warn that pg 9 refuses it): appends, reads and pings wait their turn, a
// failed query does not block the next, and a replacement is swapped in between two queries.
import { describe, expect, it } from 'vitest';
import type { JournalConnection, SnapshotRow, WalRow } from '../../../src/persistence/index.js';
import { JournalLink } from '../../../src/shards/journal-link.js';

/** A connection whose queries wait until released, counting how many ever ran at once. */
class CountingConnection implements JournalConnection {
  running = 0;
  mostAtOnce = 0;
  readonly log: string[] = [];
  private releases: (() => void)[] = [];
  closed = false;

  constructor(readonly name: string) {}

  private query<T>(what: string, value: T, fail = false): Promise<T> {
    this.running += 1;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.running);
    this.log.push(`${this.name}:${what}`);
    return new Promise((resolve, reject) =>
      this.releases.push(() => {
        this.running -= 1;
        if (fail) reject(new Error(`${what} failed`));
        else resolve(value);
      }),
    );
  }

  releaseOne(): void {
    this.releases.shift()?.();
  }

  append(rows: readonly WalRow[]): Promise<void> {
    return this.query(`append ${rows.length}`, undefined, rows.length === 0);
  }
  writeSnapshot(): Promise<void> {
    return this.query('snapshot', undefined);
  }
  latestSnapshots(): Promise<Map<number, SnapshotRow>> {
    return this.query('latest', new Map<number, SnapshotRow>());
  }
  readTails(tails: ReadonlyMap<number, number>): Promise<number> {
    return this.query(`tails ${tails.size}`, 0);
  }
  readAll(partitions: readonly number[]): Promise<number> {
    return this.query(`all ${partitions.length}`, 0);
  }
  ping(): Promise<void> {
    return this.query('ping', undefined);
  }
  cutTail(): Promise<number> {
    return this.query('cut', 0);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));
const row: WalRow = { partition: 0, lsn: 1, payload: new Uint8Array([1]) };

describe('JournalLink', () => {
  it('runs one query at a time, in the order asked, even when one fails', async () => {
    const connection = new CountingConnection('a');
    const link = new JournalLink(() => Promise.resolve(connection));
    await link.reopen(() => undefined);
    const outcomes: string[] = [];
    const append = link.append([row]).then(() => outcomes.push('append'));
    const failing = link.append([]).catch(() => outcomes.push('failed'));
    const ping = link.ping().then(() => outcomes.push('ping'));
    for (let round = 0; round < 3; round += 1) {
      await settle();
      expect(connection.running).toBeLessThanOrEqual(1);
      connection.releaseOne();
    }
    await Promise.all([append, failing, ping]);
    expect(connection.mostAtOnce).toBe(1);
    expect(outcomes).toEqual(['append', 'failed', 'ping']);
  });

  it('swaps a replacement in between queries and closes the old connection', async () => {
    const connections = [new CountingConnection('old'), new CountingConnection('new')];
    let next = 0;
    const link = new JournalLink(() => Promise.resolve(connections[next++] as CountingConnection));
    await link.reopen(() => undefined);
    const [old, fresh] = connections as [CountingConnection, CountingConnection];
    const first = link.ping();
    const replaced = link.replace(() => undefined);
    const second = link.ping();
    await settle();
    old.releaseOne();
    await first;
    expect(await replaced).toBe(true);
    await settle();
    fresh.releaseOne();
    await second;
    expect(old.closed).toBe(true);
    expect(old.log).toEqual(['old:ping']);
    expect(fresh.log).toEqual(['new:ping']);
  });
});
