// A TCP proxy between the ledger and Postgres that tests can misbehave on purpose: stall every
// byte, drop every connection (RST), refuse new ones, or delay what Postgres says back (so that
// a commit lands in the journal well before the ledger hears of it).
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface ProxyOptions {
  readonly targetHost?: string;
  readonly targetPort?: number;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
}

/** Writes chunks to `to` in order, each no earlier than `delayMs` after it arrived. */
class DelayedPipe {
  private readyAtMs = 0;

  constructor(
    private readonly proxy: TcpProxy,
    private readonly to: Socket,
  ) {}

  push(chunk: Buffer): void {
    const delayMs = this.proxy.replyDelayMs;
    if (delayMs === 0 && this.readyAtMs <= Date.now()) {
      this.to.write(chunk);
      return;
    }
    // Never overtake an earlier chunk, even if the delay was lowered meanwhile.
    this.readyAtMs = Math.max(this.readyAtMs, Date.now() + delayMs);
    setTimeout(() => {
      if (!this.to.destroyed) this.to.write(chunk);
    }, this.readyAtMs - Date.now());
  }
}

export class TcpProxy {
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private refusing = false;
  private stalled = false;
  /** Delay on bytes from Postgres to the ledger (replies, commit acknowledgements). */
  replyDelayMs = 0;
  /** Connections accepted and forwarded, ever. */
  connections = 0;
  /** Connections dropped by `dropAll` or refused, ever. */
  dropped = 0;
  port = 0;

  private constructor(private readonly options: ProxyOptions) {
    this.server = createServer((client) => this.accept(client));
  }

  static async start(options: ProxyOptions = {}): Promise<TcpProxy> {
    const proxy = new TcpProxy(options);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = proxy.server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    proxy.port = address.port;
    return proxy;
  }

  /** A copy of `url` (a postgres:// URL) that goes through this proxy. */
  urlFor(url: string): string {
    const proxied = new URL(url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(this.port);
    return proxied.toString();
  }

  get openConnections(): number {
    return this.pairs.size;
  }

  private accept(client: Socket): void {
    client.on('error', () => client.destroy());
    if (this.refusing) {
      this.dropped += 1;
      client.resetAndDestroy();
      return;
    }
    this.connections += 1;
    const upstream = connect(
      this.options.targetPort ?? 5432,
      this.options.targetHost ?? '127.0.0.1',
    );
    const pair: Pair = { client, upstream };
    this.pairs.add(pair);
    const replies = new DelayedPipe(this, client);
    upstream.on('data', (chunk: Buffer) => replies.push(chunk));
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', close);
    upstream.on('close', close);
    client.on('close', close);
    if (this.stalled) {
      client.pause();
      upstream.pause();
    }
  }

  /** Stops moving bytes in both directions; connections stay open, as on a frozen network. */
  stall(): void {
    this.stalled = true;
    for (const { client, upstream } of this.pairs) {
      client.pause();
      upstream.pause();
    }
  }

  resume(): void {
    this.stalled = false;
    for (const { client, upstream } of this.pairs) {
      client.resume();
      upstream.resume();
    }
  }

  /** Resets every open connection, as a crashed Postgres or a broken network would. */
  dropAll(): number {
    const count = this.pairs.size;
    for (const pair of [...this.pairs]) {
      this.dropped += 1;
      this.pairs.delete(pair);
      pair.client.resetAndDestroy();
      pair.upstream.destroy();
    }
    return count;
  }

  /** New connections are reset at once (existing ones are left alone: see `dropAll`). */
  refuse(on: boolean): void {
    this.refusing = on;
  }

  /** Back to a faithful pipe. */
  heal(): void {
    this.refusing = false;
    this.replyDelayMs = 0;
    this.resume();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
