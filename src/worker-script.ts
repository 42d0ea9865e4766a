// Starts a worker thread from a module next to the caller: compiled JS runs directly; TypeScript
// (tests, `tsx src/main.ts`) boots through tsx's register, since Node 20 does not apply tsx's
// loader inside worker threads by itself (RECIPES.md). A leaf module: it imports nothing of ours.
import { Worker, type ResourceLimits } from 'node:worker_threads';

/**
 * `callerUrl` is the caller's import.meta.url; `name` the worker module's file name without an
 * extension, in the caller's folder; `resourceLimits` the thread's heap limits, if not V8's.
 */
export function spawnWorker(
  callerUrl: string,
  name: string,
  workerData: unknown,
  resourceLimits: ResourceLimits = {},
): Worker {
  if (callerUrl.endsWith('.js'))
    return new Worker(new URL(`./${name}.js`, callerUrl), { workerData, resourceLimits });
  const script = new URL(`./${name}.ts`, callerUrl).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot =
    `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); ` +
    `return import(${JSON.stringify(script)}); })`;
  return new Worker(boot, { eval: true, workerData, resourceLimits });
}
