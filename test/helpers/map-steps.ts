// Steps for a table tested against a Map (split-map.test.ts, string-table.test.ts): sets of keys
// 0..`keys` with any value, deletes, and iterations that delete every key whose number is a
// multiple of the modulus as they go.
import fc from 'fast-check';

export type MapStep =
  | { kind: 'set'; key: number; value: number }
  | { kind: 'delete'; key: number }
  | { kind: 'iterate-deleting'; modulus: number };

/** Deletes name keys 0..`deleteKeys` (any number when undefined: most then miss). */
export function mapStep(
  keys: number,
  deleteWeight: number,
  deleteKeys?: number,
): fc.Arbitrary<MapStep> {
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant('set' as const),
        key: fc.nat({ max: keys }),
        value: fc.nat(),
      }),
    },
    {
      weight: deleteWeight,
      arbitrary: fc.record({
        kind: fc.constant('delete' as const),
        key: deleteKeys === undefined ? fc.nat() : fc.nat({ max: deleteKeys }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('iterate-deleting' as const),
        modulus: fc.integer({ min: 2, max: 5 }),
      }),
    },
  );
}
