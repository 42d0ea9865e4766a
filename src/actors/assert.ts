// Assertions are for programmer errors only: a failed one crashes the shard, which is then
// rebuilt from the journal. Operating errors (bad input, lost connections) are handled instead.

export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
