// Finishes the carts whose coordinator is gone. Every `intervalMs` it asks every shard for carts
// whose holds have been in doubt for longer than a coordinator takes (limits.ts), and for each
// asks the cart's home for its decision (the home journals an abort if it has none: presumed
// abort), then settles or releases the holds. After a crash this is what releases the holds of
// carts that were prepared but never decided; they were never acknowledged. Holds pinned by a
// cart confirm attempt are finished the same way: confirmed if the home journaled the attempt
// as confirmed, else let go.
import type { CartInDoubt } from '../shards/index.js';
import type { CartCoordinator } from './cart-coordinator.js';

export interface CartResolverOptions {
  readonly coordinator: CartCoordinator;
  /** The carts in doubt, from every shard that answers (a shard that cannot is asked again). */
  readonly inDoubt: () => Promise<readonly CartInDoubt[]>;
  readonly intervalMs: number;
  readonly log: (level: 'info' | 'warn', message: string) => void;
}

export class CartResolver {
  /** Carts being resolved now: one resolution per cart at a time. */
  private readonly resolving = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly options: CartResolverOptions) {}

  start(): void {
    this.timer ??= setInterval(() => void this.round(), this.options.intervalMs);
    this.timer.unref();
    void this.round();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round: asks the shards, starts a resolution per new cart; how many it started. */
  async round(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    try {
      const carts = await this.options.inDoubt();
      let started = 0;
      for (const { partition, cartId, attempt = '' } of carts) {
        const key = `${partition}/${cartId}/${attempt}`;
        if (this.resolving.has(key)) continue;
        this.resolving.add(key);
        started += 1;
        const done = () => this.resolving.delete(key);
        this.options.coordinator.resolveInDoubt(partition, cartId, done, attempt);
      }
      if (started > 0) this.options.log('info', `resolving ${started} carts left in doubt`);
      return started;
    } catch (error) {
      this.options.log('warn', `carts in doubt could not be listed: ${String(error)}`);
      return 0;
    } finally {
      this.running = false;
    }
  }
}
