// Proves minted ids are UUIDs that route back to their partition, and other text routes to -1.
import { describe, expect, it } from 'vitest';
import { partitionsMax } from '../../../src/limits.js';
import { mintReservationId, reservationPartition } from '../../../src/router/reservation-id.js';

const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const boundaryPartitions = [0, 1, 15, 16, 255, 256, 4_095, 4_096, 32_768, 65_534, 65_535];
describe('mintReservationId / reservationPartition', () => {
  it('allows 65536 partitions', () => {
    expect(partitionsMax).toBe(65_536);
  });

  it.each(boundaryPartitions)('routes an id minted for partition %i back to it', (partition) => {
    const id = mintReservationId(partition);
    expect(id).toMatch(uuidShape);
    expect(reservationPartition(id, partitionsMax)).toBe(partition);
    expect(reservationPartition(id, partition + 1)).toBe(partition);
  });

  it('routes ids minted for every partition 0..65535 back to their partition', () => {
    const misrouted: string[] = [];
    for (let partition = 0; partition < partitionsMax; partition += 1) {
      const id = mintReservationId(partition);
      if (!uuidShape.test(id) || reservationPartition(id, partitionsMax) !== partition) {
        misrouted.push(`${partition}: ${id}`);
      }
    }
    expect(misrouted).toStrictEqual([]);
  });

  it('refuses to mint an id for a partition outside 0..65535', () => {
    expect(() => mintReservationId(-1)).toThrow(RangeError);
    expect(() => mintReservationId(65_536)).toThrow(RangeError);
  });

  it('mints a different id every time for the same partition', () => {
    const ids = new Set<string>();
    for (let index = 0; index < 10_000; index += 1) ids.add(mintReservationId(42));
    expect(ids.size).toBe(10_000);
  });

  it('draws every random digit from all sixteen values and the variant from all four', () => {
    // Over 4,000 ids, a place that misses a value of its 16 is a bug, not chance (under 1e-100).
    const seen = Array.from({ length: 36 }, () => new Set<string>());
    for (let index = 0; index < 4_000; index += 1) {
      const id = mintReservationId(7);
      for (let place = 0; place < 36; place += 1) seen[place]?.add(id[place] as string);
    }
    const randomPlaces = [...Array(36).keys()].filter(
      (place) => place >= 4 && ![8, 13, 14, 18, 19, 23].includes(place),
    );
    expect(randomPlaces).toHaveLength(26);
    for (const place of randomPlaces) expect([place, seen[place]?.size]).toStrictEqual([place, 16]);
    expect([...(seen[19] ?? [])].sort()).toStrictEqual(['8', '9', 'a', 'b']);
    expect([...(seen[14] ?? [])]).toStrictEqual(['8']);
    expect([
      ...(seen[0] ?? []),
      ...(seen[1] ?? []),
      ...(seen[2] ?? []),
      ...(seen[3] ?? []),
    ]).toStrictEqual(['0', '0', '0', '7']);
  });

  it('answers -1 for an id whose partition is not below the partition count', () => {
    expect(reservationPartition(mintReservationId(256), 256)).toBe(-1);
    expect(reservationPartition(mintReservationId(300), 256)).toBe(-1);
    expect(reservationPartition(mintReservationId(1), 1)).toBe(-1);
    expect(reservationPartition(mintReservationId(0), 1)).toBe(0);
  });

  it.each([
    ['the empty string', ''],
    ['a plain word', 'reservation'],
    ['a UUID without dashes', '0001abcd1234812345678123456789abcdef'.replace(/-/g, '')],
    ['a UUID one character short', '0001abcd-1234-8123-8123-456789abcde'],
    ['a UUID one character long', '0001abcd-1234-8123-8123-456789abcdef0'],
    ['a UUID with a non-hex character', '0001abcd-1234-8123-8123-456789abcdeg'],
    ['a UUID with dashes in the wrong places', '0001abcd1-234-8123-8123-456789abcdef'],
    ['a UUID with surrounding spaces', ' 0001abcd-1234-8123-8123-456789abcd '],
    ['a UUID with a trailing newline', '0001abcd-1234-8123-8123-456789abcde\n'],
    ['a path traversal', '../../../../../../../../../etc/passwd'],
  ])('answers -1 for %s', (_what, id) => {
    expect(reservationPartition(id, partitionsMax)).toBe(-1);
  });

  it('routes a well-formed id from elsewhere by its first four hex digits', () => {
    expect(reservationPartition('00ff0000-0000-4000-8000-000000000000', 256)).toBe(255);
  });
});
