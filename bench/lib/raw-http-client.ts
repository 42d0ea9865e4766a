// One keep-alive HTTP/1.1 connection for the bench's load threads, on a bare `net.Socket`: one
// request at a time (pipelining 1), the request's head written as one string, the answer cut out
// of what the socket hands over by its content-length.
//
// Why not undici: the load generator shares the box's two cores with the system it measures, so
// what it spends per request is taken from the server. undici's Client cost the bench 31–35 µs
// of CPU per answer on the hot SKU, wrk 11, on one bench machine; this client costs 26–46% less
// than undici (bench/README.md, "`--client`"), and the server answers more for it. It does only
// what the bench's requests need, which is why it may be hand-written: a JSON body of known
// length out, a status, two headers and a body in. What it does not read it refuses loudly
// rather than guessing: a chunked or unsized answer, a status line that is not HTTP/1.x, a head
// over `headBytesMax`. Every failure rejects the request in hand with an Error; the connection is
// closed then, and the next request opens a new one, as undici does.
import { connect, type Socket } from 'node:net';

/** An answer as the load threads read it. */
export interface RawAnswer {
  readonly status: number;
  /** The body, decoded as UTF-8. */
  readonly text: string;
  /** The retry-after header as sent, if any. */
  readonly retryAfter: string | undefined;
}

export interface RawHttpOptions {
  /** Headers sent with every request (name: value; no content-length, no host). */
  readonly headers?: Readonly<Record<string, string>>;
  /** No complete answer within this long after the request is written: the request fails. */
  readonly timeoutMs: number;
}

/** A response head larger than this is refused (the servers measured send about 150 bytes). */
const headBytesMax = 16 * 1024;
/** A body larger than this is refused (the ledger's largest answers are a few kB). */
const bodyBytesMax = 8 * 1024 * 1024;
const headEnd = Buffer.from('\r\n\r\n');
const nothing = Buffer.alloc(0);

/** The head of an answer: where its body starts and how long it is. */
interface Head {
  readonly status: number;
  readonly bodyStart: number;
  readonly bodyBytes: number;
  readonly retryAfter: string | undefined;
  /** The server said `connection: close`: the socket is not used again. */
  readonly closes: boolean;
}

/** Parses an answer's head, which ends at `end` (the blank line's first byte); throws if bad. */
export function parseHead(bytes: Buffer, end: number): Head {
  const lines = bytes.toString('latin1', 0, end).split('\r\n');
  const statusLine = /^HTTP\/1\.[01] ([1-5][0-9][0-9])(?: |$)/.exec(lines[0] ?? '');
  if (statusLine === null) throw new Error(`not an HTTP/1.x status line: ${lines[0]}`);
  let bodyBytes: number | undefined;
  let retryAfter: string | undefined;
  let closes = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`a header line without a name: ${line}`);
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      if (!/^[0-9]{1,10}$/.test(value) || bodyBytes !== undefined) {
        throw new Error(`a content-length this client does not take: ${value}`);
      }
      bodyBytes = Number(value);
    } else if (name === 'transfer-encoding') {
      throw new Error(`transfer-encoding ${value}: this client reads sized bodies only`);
    } else if (name === 'retry-after') {
      retryAfter = value;
    } else if (name === 'connection') {
      closes = value.toLowerCase() === 'close';
    }
  }
  const status = Number(statusLine[1]);
  // RFC 9112 6.3: 1xx, 204 and 304 have no body; everything else here must say how long it is.
  const bodiless = status < 200 || status === 204 || status === 304;
  if (bodiless) bodyBytes = 0;
  if (bodyBytes === undefined) throw new Error(`a ${status} answer without content-length`);
  if (bodyBytes > bodyBytesMax) throw new Error(`a body of ${bodyBytes} bytes`);
  return { status, bodyStart: end + headEnd.length, bodyBytes, retryAfter, closes };
}

interface InFlight {
  readonly resolve: (answer: RawAnswer) => void;
  readonly reject: (error: Error) => void;
}

export class RawHttpClient {
  private readonly host: string;
  private readonly port: number;
  private readonly fixedHeaders: string;
  private socket: Socket | undefined;
  private inFlight: InFlight | undefined;
  /** What the socket has handed over of the answer in hand (several chunks only when split). */
  private received: Buffer = nothing;
  private head: Head | undefined;
  private closed = false;
  /**
   * One timer per connection, re-armed as each request is written (no timer made per request);
   * it fails the request in flight when it fires, and does nothing if the answer came first.
   */
  private timer: NodeJS.Timeout | undefined;

  constructor(
    url: string,
    private readonly options: RawHttpOptions,
  ) {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:') throw new Error(`only http:// here, got ${url}`);
    this.host = parsed.hostname;
    this.port = Number(parsed.port === '' ? 80 : parsed.port);
    const headers = { host: parsed.host, ...options.headers };
    this.fixedHeaders = Object.entries(headers)
      .map(([name, value]) => {
        if (/[\r\n]/.test(name + value)) throw new Error(`header ${name} has a line break`);
        return `${name}: ${value}\r\n`;
      })
      .join('');
  }

  /** Sends one request and reads its answer; one at a time. */
  request(method: string, path: string, body?: string): Promise<RawAnswer> {
    if (this.closed) return Promise.reject(new Error('the client is closed'));
    if (this.inFlight !== undefined) {
      return Promise.reject(new Error('a request is in flight on this connection'));
    }
    const socket = this.socket ?? this.open();
    const length = body === undefined ? '' : `content-length: ${Buffer.byteLength(body)}\r\n`;
    socket.write(`${method} ${path} HTTP/1.1\r\n${this.fixedHeaders}${length}\r\n${body ?? ''}`);
    if (this.timer === undefined) {
      this.timer = setTimeout(this.timedOut, this.options.timeoutMs);
    } else {
      this.timer.refresh();
    }
    return new Promise((resolve, reject) => {
      this.inFlight = { resolve, reject };
    });
  }

  /** Closes the connection; a request in flight fails. */
  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.fail(new Error('the client was closed'));
    return Promise.resolve();
  }

  private readonly timedOut = (): void => {
    if (this.inFlight !== undefined) {
      this.fail(new Error(`no answer within ${this.options.timeoutMs} ms`));
    }
  };

  private open(): Socket {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    // A socket dropped for an earlier failure is no longer this client's concern.
    socket.on('data', (chunk: Buffer) => {
      if (this.socket === socket) this.receive(chunk);
    });
    socket.on('error', (error) => {
      if (this.socket === socket) this.fail(error);
    });
    socket.on('close', () => {
      if (this.socket === socket) this.fail(new Error('the server closed the connection'));
    });
    this.socket = socket;
    return socket;
  }

  private receive(chunk: Buffer): void {
    if (this.inFlight === undefined) {
      this.fail(new Error(`${chunk.length} bytes from the server with no request in flight`));
      return;
    }
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    try {
      if (this.head === undefined) {
        const end = this.received.indexOf(headEnd);
        if (end < 0) {
          if (this.received.length > headBytesMax) throw new Error('an answer head over 16 KiB');
          return;
        }
        this.head = parseHead(this.received, end);
      }
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const head = this.head;
    const bodyEnd = head.bodyStart + head.bodyBytes;
    if (this.received.length < bodyEnd) return;
    if (this.received.length > bodyEnd) {
      this.fail(new Error(`${this.received.length - bodyEnd} bytes past the answer's end`));
      return;
    }
    const text = this.received.toString('utf8', head.bodyStart, bodyEnd);
    const { resolve } = this.inFlight;
    this.inFlight = undefined;
    this.head = undefined;
    this.received = nothing;
    if (head.closes) this.drop();
    resolve({ status: head.status, text, retryAfter: head.retryAfter });
  }

  /** The request in hand (if any) fails, and the connection goes: its state is unknown. */
  private fail(error: Error): void {
    this.drop();
    const inFlight = this.inFlight;
    this.inFlight = undefined;
    this.head = undefined;
    this.received = nothing;
    inFlight?.reject(error);
  }

  private drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
  }
}
