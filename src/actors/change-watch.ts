// Copy-on-write for snapshots taken in slices (snapshot-capture.ts): a stock key says here,
// before it changes, that it is about to (and which hold, when a hold's fields change), so a
// capture in progress can keep what the key or hold was when the snapshot began. Nobody
// watching (nearly always) costs one length check per change.
//
// The key and the hold are typed as objects here (stock-actor.ts imports this file, not the other
// way round); a watcher names them as what they are, a StockActor and one of its Reservations.

export interface ChangeWatcher {
  /** `actor` is about to change; `hold`, one of its holds, too (its fields, not the map). */
  beforeChange(actor: object, hold: object | undefined): void;
}

// Weak: a capture its shard dropped (a crash in the simulator, which keeps the module) is
// forgotten with it rather than called for ever; a live one is held by its shard.
let watchers: WeakRef<ChangeWatcher>[] = [];

/** Starts telling `watcher` of changes; returns the call that stops it. */
export function watchChanges(watcher: ChangeWatcher): () => void {
  const ref = new WeakRef(watcher);
  watchers = [...watchers, ref];
  return () => {
    watchers = watchers.filter((other) => other !== ref);
  };
}

/** Called by StockActor before every change of what a snapshot keeps of it. */
export function beforeChange(actor: object, hold?: object): void {
  if (watchers.length === 0) return;
  const current = watchers;
  for (const ref of current) {
    const watcher = ref.deref();
    if (watcher === undefined) watchers = watchers.filter((other) => other !== ref);
    else watcher.beforeChange(actor, hold);
  }
}

/** Captures watching now (tests: none may be left behind). */
export function watcherCount(): number {
  return watchers.filter((ref) => ref.deref() !== undefined).length;
}
