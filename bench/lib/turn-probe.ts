// How long a thread went without running a setImmediate task while some work ran: the longest
// stop of its event loop (a shard's mailbox waits exactly that long), for the micro-benches.

/** The longest gap between setImmediate tasks while `work` runs, and what `work` returned. */
export async function longestTurn<T>(
  work: () => Promise<T>,
): Promise<{ value: T; turnMs: number }> {
  let last = performance.now();
  let longest = 0;
  let running = true;
  const tick = (): void => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const value = await work();
  running = false;
  return { value, turnMs: longest };
}
