// Small helpers both simulators share: waiting for every queued promise reaction, telling a
// programmer error (an assertion) from an operating one, and showing an error in a trace line.

export function drain(): Promise<void> {
  // Every promise reaction queued so far runs before a macrotask: nothing else is scheduled.
  return new Promise((resolve) => setImmediate(resolve));
}

export function isAssertion(error: unknown): boolean {
  return (
    error instanceof Error && (error.name === 'AssertionError' || error.name === 'InvariantError')
  );
}

export function show(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
