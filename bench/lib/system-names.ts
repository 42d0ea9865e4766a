// The names of the systems the bench can drive (systems.ts starts them): apart, so that reading
// the command line (args.ts) and writing the report need nothing of how they start.
export type SystemName =
  | 'ledger'
  | 'postgres-row-lock'
  | 'redis-lua'
  | 'bare-uws'
  | 'bare-uws-commit'
  | 'bare-uws-commit-hop'
  | 'bare-uws-commit-wal'
  | 'bare-uws-commit-journal';

export const systemNames: readonly SystemName[] = [
  'ledger',
  'postgres-row-lock',
  'redis-lua',
  'bare-uws',
  'bare-uws-commit',
  'bare-uws-commit-hop',
  'bare-uws-commit-wal',
  'bare-uws-commit-journal',
];

/** What --compare runs: the ledger and the baselines its targets name. */
export const comparedSystemNames: readonly SystemName[] = [
  'ledger',
  'postgres-row-lock',
  'redis-lua',
  'bare-uws',
];

/** Systems that keep no stock: no end-state check, no oversell to count. */
export const statelessSystemNames: ReadonlySet<SystemName> = new Set([
  'bare-uws',
  'bare-uws-commit',
  'bare-uws-commit-hop',
  'bare-uws-commit-wal',
  'bare-uws-commit-journal',
]);

/** Whether a system keeps stock, so that the end-state check applies to it. */
export const keepsStock = (name: SystemName): boolean => !statelessSystemNames.has(name);
