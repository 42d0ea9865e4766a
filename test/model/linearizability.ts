// A small linearizability checker (Wing & Gong's search with Lowe's memo, as in Porcupine): is
// there a sequential order of the operations, consistent with the real-time order given by each
// operation's [invoke, response] interval, that the sequential specification accepts? The search
// is bounded; an exhausted budget is reported as such, never as a pass.

export interface Operation<Input, Output> {
  readonly client: number;
  readonly input: Input;
  /** The observed answer; undefined when it is unknown (lost reply, crash, 503). */
  readonly output: Output | undefined;
  readonly invokeMs: number;
  /** Infinity when no answer was observed: the operation may have taken effect or not. */
  readonly responseMs: number;
}

export interface SequentialSpec<State, Input, Output> {
  readonly initial: State;
  /**
   * Every state the specification may be in after applying `operation` to `state` so that it
   * answers what was observed; empty if it cannot. Nondeterminism (e.g. when within its
   * interval the operation took effect) is expressed by returning several states.
   */
  step(state: State, operation: Operation<Input, Output>): State[];
  /** A canonical text of the state, for the memo: equal keys must mean equal behaviour. */
  key(state: State): string;
}

export type CheckResult =
  | { readonly verdict: 'linearizable'; readonly order: number[]; readonly explored: number }
  | {
      readonly verdict: 'not-linearizable';
      /** The longest sequential prefix found, as indexes into the history. */
      readonly longestPrefix: number[];
      /** Operations that could come next after that prefix, none of which the spec accepts. */
      readonly stuckAt: number[];
      readonly explored: number;
    }
  | { readonly verdict: 'unknown'; readonly explored: number };

export interface CheckOptions {
  /** Search nodes visited at most before giving up with 'unknown'. */
  readonly exploredMax?: number;
}

interface Search<State, Input, Output> {
  readonly history: readonly Operation<Input, Output>[];
  readonly spec: SequentialSpec<State, Input, Output>;
  readonly byInvoke: readonly number[];
  readonly seen: Set<string>;
  readonly order: number[];
  readonly done: boolean[];
  explored: number;
  readonly exploredMax: number;
  longestPrefix: number[];
  stuckAt: number[];
}

class BudgetExhausted extends Error {}

export function checkLinearizable<State, Input, Output>(
  history: readonly Operation<Input, Output>[],
  spec: SequentialSpec<State, Input, Output>,
  options: CheckOptions = {},
): CheckResult {
  const byInvoke = history.map((_, index) => index);
  byInvoke.sort(
    (a, b) =>
      (history[a] as Operation<Input, Output>).invokeMs -
      (history[b] as Operation<Input, Output>).invokeMs,
  );
  const search: Search<State, Input, Output> = {
    history,
    spec,
    byInvoke,
    seen: new Set(),
    order: [],
    done: history.map(() => false),
    explored: 0,
    exploredMax: options.exploredMax ?? 2_000_000,
    longestPrefix: [],
    stuckAt: [],
  };
  try {
    if (explore(search, spec.initial, 0n)) {
      return { verdict: 'linearizable', order: [...search.order], explored: search.explored };
    }
  } catch (error) {
    if (error instanceof BudgetExhausted) return { verdict: 'unknown', explored: search.explored };
    throw error;
  }
  return {
    verdict: 'not-linearizable',
    longestPrefix: search.longestPrefix,
    stuckAt: search.stuckAt,
    explored: search.explored,
  };
}

/**
 * The operations that may be linearized next: not done, and invoked no later than the earliest
 * response among the operations not done (one that returned before another was invoked must
 * come first). Equal times count as overlapping, so millisecond clocks never cause a false alarm.
 */
function candidates<State, Input, Output>(search: Search<State, Input, Output>): number[] {
  let earliestResponseMs = Number.POSITIVE_INFINITY;
  let pendingRequired = false;
  for (let index = 0; index < search.history.length; index += 1) {
    if (search.done[index]) continue;
    const operation = search.history[index] as Operation<Input, Output>;
    if (operation.output !== undefined) pendingRequired = true;
    earliestResponseMs = Math.min(earliestResponseMs, operation.responseMs);
  }
  if (!pendingRequired) return [];
  const next: number[] = [];
  for (const index of search.byInvoke) {
    if (search.done[index]) continue;
    if ((search.history[index] as Operation<Input, Output>).invokeMs > earliestResponseMs) break;
    next.push(index);
  }
  return next;
}

function explore<State, Input, Output>(
  search: Search<State, Input, Output>,
  state: State,
  doneMask: bigint,
): boolean {
  const next = candidates(search);
  // Done when every operation with an observed answer is placed; unknown ones may never happen.
  if (next.length === 0) return true;
  if (search.order.length > search.longestPrefix.length) {
    search.longestPrefix = [...search.order];
    search.stuckAt = next;
  }
  for (const index of next) {
    const operation = search.history[index] as Operation<Input, Output>;
    const mask = doneMask | (1n << BigInt(index));
    for (const after of search.spec.step(state, operation)) {
      search.explored += 1;
      if (search.explored > search.exploredMax) throw new BudgetExhausted();
      const memo = `${mask.toString(36)}#${search.spec.key(after)}`;
      if (search.seen.has(memo)) continue;
      search.seen.add(memo);
      search.done[index] = true;
      search.order.push(index);
      if (explore(search, after, mask)) return true;
      search.order.pop();
      search.done[index] = false;
    }
  }
  return false;
}

/** A readable account of a failed check, for the test's failure message. */
export function describeFailure<Input, Output>(
  history: readonly Operation<Input, Output>[],
  result: CheckResult,
  show: (operation: Operation<Input, Output>) => string,
): string {
  if (result.verdict === 'linearizable') return 'linearizable';
  if (result.verdict === 'unknown') {
    return `search budget exhausted after ${result.explored} nodes (${history.length} operations)`;
  }
  const line = (index: number) => `  #${index} ${show(history[index] as Operation<Input, Output>)}`;
  return [
    `not linearizable (${history.length} operations, ${result.explored} nodes explored)`,
    'longest sequential prefix:',
    ...result.longestPrefix.map(line),
    'none of these can come next:',
    ...result.stuckAt.map(line),
  ].join('\n');
}
