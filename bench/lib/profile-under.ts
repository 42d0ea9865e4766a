// Inclusive shares of a V8 CPU profile (.cpuprofile): of all its samples, how many had a named
// function anywhere on the stack, each name alone and all of them together (a sample counted
// once however many of them it was under). Self time says where the instructions were; this says
// what a part of the code costs with everything it calls, e.g. how much of a replay goes to
// making pending holds and retiring them (bench/cpu-profile-summary.ts --under).

export interface ProfileNode {
  readonly id: number;
  readonly children?: readonly number[];
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  /** µs, on the profile's own clock: the thread's profiled span. */
  readonly startTime: number;
  readonly endTime: number;
  /** µs from the previous sample (the first: from startTime). */
  readonly timeDeltas: readonly number[];
}

/** A function by name, optionally only where its script's URL contains `file`. */
export interface FrameMatch {
  readonly text: string;
  readonly functionName: string;
  readonly file: string | undefined;
}

/** `NAME` or `NAME@FILE` (e.g. `retire@stock-actor`: the one in a file whose URL has that). */
export function parseFrameMatch(text: string): FrameMatch {
  const at = text.indexOf('@');
  const functionName = at < 0 ? text : text.slice(0, at);
  const file = at < 0 ? undefined : text.slice(at + 1);
  if (functionName === '' || file === '') {
    throw new Error(`--under wants NAME or NAME@FILE, got '${text}'`);
  }
  return { text, functionName, file };
}

function matches(match: FrameMatch, node: ProfileNode): boolean {
  const frame = node.callFrame;
  return (
    frame.functionName === match.functionName &&
    (match.file === undefined || frame.url.includes(match.file))
  );
}

/** Out of the profile's samples (`profile.samples.length`). */
export interface UnderShares {
  /** Samples under each match, in the order given. */
  readonly each: readonly number[];
  /** Samples under any of them. */
  readonly any: number;
}

/** Each node's caller: the node whose children list it (the root has none). */
export function parentsOf(profile: CpuProfile): Map<number, number> {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  return parent;
}

export function underShares(profile: CpuProfile, wanted: readonly FrameMatch[]): UnderShares {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = parentsOf(profile);
  // Which matches each node's stack (itself and its callers) holds, worked out once a node.
  const under = new Map<number, readonly boolean[]>();
  const stackOf = (id: number): readonly boolean[] => {
    const known = under.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    const above = parent.get(id);
    const callers = above === undefined ? wanted.map(() => false) : stackOf(above);
    const here = wanted.map(
      (match, index) => callers[index] === true || (node !== undefined && matches(match, node)),
    );
    under.set(id, here);
    return here;
  };
  const each = wanted.map(() => 0);
  let any = 0;
  for (const id of profile.samples) {
    const flags = stackOf(id);
    flags.forEach((flag, index) => {
      if (flag) each[index] = (each[index] as number) + 1;
    });
    if (flags.some((flag) => flag)) any += 1;
  }
  return { each, any };
}
