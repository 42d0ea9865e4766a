// A TCP proxy on 127.0.0.1 that holds every chunk for `delayMs` before passing it on, each way:
// for the round trips, a Postgres on another host (bench/restart.ts --postgres-delay-ms). Chunks
// keep their order (timers of one duration fire in the order they were set). Bench tooling: it
// reads as fast as it is sent to, with no back-pressure, which a bounded bench can afford.
import net from 'node:net';

export interface DelayProxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  close(): Promise<void>;
}

/** Node's timers count whole milliseconds: a delay is one at least. */
const delayMsMin = 1;

export async function startDelayProxy(
  target: { readonly host: string; readonly port: number },
  delayMs: number,
): Promise<DelayProxy> {
  if (!Number.isInteger(delayMs) || delayMs < delayMsMin) {
    throw new Error(`a proxy delay is a whole number of ms from ${delayMsMin}, got ${delayMs}`);
  }
  const sockets = new Set<net.Socket>();
  // Half-open sockets: each side's end is passed on in its turn, after the chunks before it,
  // not done at once by Node (which would drop what is still held for that side).
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ port: target.port, host: target.host, allowHalfOpen: true });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('close', () => sockets.delete(socket));
    }
    const relay = (from: net.Socket, to: net.Socket) => {
      from.on('data', (chunk) => setTimeout(() => to.writable && to.write(chunk), delayMs));
      from.on('end', () => setTimeout(() => to.end(), delayMs));
      from.on('error', () => to.destroy());
    };
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** `url` with its host and port replaced by the proxy's. */
export function throughProxy(url: string, proxy: DelayProxy): string {
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(proxy.port);
  return proxied.toString();
}
