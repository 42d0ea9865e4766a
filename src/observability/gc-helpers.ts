// V8's helper threads: Node gives V8 a pool of four (`--v8-pool-size`), and a shard's garbage
// collector marks its heap on them beside the shard. On a machine of two cores or fewer, four
// helpers marking at once take the cores from the HTTP thread, the shards and Postgres while a
// hot product's shard collects; one helper is the advice there (docs/operations.md, "Scaling").
// Node reads the pool size once, before any JavaScript runs, so a start can only say so.
import { usableCores } from '../cores.js';

const poolSizeFlag = /(?:^|\s)--v8-pool-size(?:=|\s+)(\d+)(?=\s|$)/;

/** The pool size node was started with (its own flags first, then NODE_OPTIONS), if set. */
export function v8PoolSize(
  execArgv: readonly string[],
  nodeOptions: string | undefined,
): number | undefined {
  // Node lets a flag on its command line override the same flag in NODE_OPTIONS.
  for (const text of [execArgv.join(' '), nodeOptions ?? '']) {
    const match = poolSizeFlag.exec(text);
    if (match !== null) return Number(match[1]);
  }
  return undefined;
}

/** What a start on `cores` cores with this pool size should be told, if anything. */
export function gcHelperAdvice(cores: number, poolSize: number | undefined): string | undefined {
  if (cores > 2 || poolSize !== undefined) return undefined;
  return (
    `${cores} core${cores === 1 ? '' : 's'} and V8's default of four helper threads: ` +
    'start node with NODE_OPTIONS=--v8-pool-size=1 for a shorter latency tail ' +
    '(docs/operations.md, "Scaling")'
  );
}

/** The advice for this process as node started it, on the cores it may use (cores.ts). */
export function gcHelperAdviceHere(): string | undefined {
  return gcHelperAdvice(usableCores(), v8PoolSize(process.execArgv, process.env.NODE_OPTIONS));
}
