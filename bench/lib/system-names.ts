// The names of the systems the bench can drive (systems.ts starts them): apart, so that reading
// the command line (args.ts) needs nothing of how they start.
export type SystemName = 'ledger' | 'postgres-row-lock' | 'redis-lua' | 'bare-uws';

export const systemNames: readonly SystemName[] = [
  'ledger',
  'postgres-row-lock',
  'redis-lua',
  'bare-uws',
];
