// Assertions are for programmer errors only: a failed one crashes the shard, which is then
// rebuilt from the journal. Operating errors (bad input, lost connections) are handled instead.

export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

/**
 * `message` may be a function, so that a message built from values (a template string) costs
 * nothing on the hot path when the assertion holds, which is always.
 */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new AssertionError(typeof message === 'string' ? message : message());
}
