// The names of the systems the bench can drive (systems.ts starts them): apart, so that reading
// the command line (args.ts) and writing the report need nothing of how they start.

/**
 * The durable floors (bench/baselines/bare-uws-commit.ts), most work first: with the ledger's
 * journal statement and its history, with the statement alone, behind the hop, on one thread.
 */
export const durableFloorNames = [
  'bare-uws-commit-journal',
  'bare-uws-commit-wal',
  'bare-uws-commit-hop',
  'bare-uws-commit',
] as const;

export type DurableFloorName = (typeof durableFloorNames)[number];

export type SystemName =
  'ledger' | 'postgres-row-lock' | 'redis-lua' | 'bare-uws' | DurableFloorName;

export const systemNames: readonly SystemName[] = [
  'ledger',
  'postgres-row-lock',
  'redis-lua',
  'bare-uws',
  ...durableFloorNames,
];

/** What --compare runs: the ledger and the baselines its targets name. */
export const comparedSystemNames: readonly SystemName[] = [
  'ledger',
  'postgres-row-lock',
  'redis-lua',
  'bare-uws',
];

/** Systems that keep no stock: no end-state check, no oversell to count. */
export const statelessSystemNames: ReadonlySet<SystemName> = new Set<SystemName>([
  'bare-uws',
  ...durableFloorNames,
]);

/** Whether a system keeps stock, so that the end-state check applies to it. */
export const keepsStock = (name: SystemName): boolean => !statelessSystemNames.has(name);
