// fast-check run options, replayable from FC_SEED (and FC_PATH) printed by a failing run.
import type { Parameters } from 'fast-check';

export function runOptions<T>(numRuns: number): Parameters<T> {
  const seed = process.env.FC_SEED;
  const path = process.env.FC_PATH;
  if (seed === undefined || seed === '') return { numRuns };
  const replay: Parameters<T> = { numRuns, seed: Number(seed) };
  return path === undefined || path === '' ? replay : { ...replay, path };
}
