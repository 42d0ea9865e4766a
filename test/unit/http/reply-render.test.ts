// Proves a refusal's retry-after is rendered apart from its body: a shed 503 overloaded carries
// the seconds its shard sized, any other 503 says 1, other statuses none; and the body of a shed
// refusal is the contract's error body exactly, whatever its retry-after.
import { describe, expect, it } from 'vitest';
import { renderOutcome } from '../../../src/http/reply-render.js';
import { failure } from '../../../src/shards/index.js';

describe('renderOutcome, retry-after', () => {
  it('gives a shed refusal the seconds its shard sized, with the body unchanged', () => {
    const sized = renderOutcome(failure(0, 'overloaded', 'busy', 7).outcome);
    const plain = renderOutcome(failure(0, 'overloaded', 'busy').outcome);
    expect(sized.status).toBe(503);
    expect(sized.retryAfterSeconds).toBe(7);
    expect(plain.retryAfterSeconds).toBe(1);
    expect(sized.body).toBe(plain.body);
    expect(JSON.parse(sized.body)).toEqual({
      error: { code: 'overloaded', message: 'busy' },
    });
  });

  it('says 1 for any other 503 and nothing for other statuses', () => {
    expect(renderOutcome(failure(0, 'unavailable').outcome).retryAfterSeconds).toBe(1);
    const refused = { ok: false, code: 'insufficient_stock', message: 'no' } as const;
    expect(renderOutcome(refused).retryAfterSeconds).toBeUndefined();
  });
});
