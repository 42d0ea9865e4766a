// The hottest stock keys, for a per-key gauge of bounded cardinality: counts durable changes per
// key in a bounded table (the least-changed half is dropped and the rest halved when it fills,
// so old heat fades), and reports the latest available units of the top N.
export interface HotKey {
  readonly productId: string;
  readonly warehouseId: string;
  readonly available: number;
}

interface Entry {
  productId: string;
  warehouseId: string;
  available: number;
  changes: number;
}

export class HotKeys {
  private readonly entries = new Map<string, Entry>();
  private readonly capacity: number;

  constructor(readonly topN: number) {
    // Room for keys on their way up; a new key enters with one change.
    this.capacity = Math.max(16, topN * 4);
  }

  observe(productId: string, warehouseId: string, available: number): void {
    const key = `${productId}\u0000${warehouseId}`;
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      entry.available = available;
      entry.changes += 1;
      return;
    }
    if (this.entries.size >= this.capacity) this.fade();
    this.entries.set(key, { productId, warehouseId, available, changes: 1 });
  }

  top(): HotKey[] {
    return [...this.entries.values()]
      .sort((a, b) => b.changes - a.changes)
      .slice(0, this.topN)
      .map(({ productId, warehouseId, available }) => ({ productId, warehouseId, available }));
  }

  private fade(): void {
    const ranked = [...this.entries].sort((a, b) => b[1].changes - a[1].changes);
    this.entries.clear();
    for (const [key, entry] of ranked.slice(0, Math.floor(this.capacity / 2))) {
      entry.changes = Math.ceil(entry.changes / 2);
      this.entries.set(key, entry);
    }
  }
}
