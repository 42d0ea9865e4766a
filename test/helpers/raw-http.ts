// Raw HTTP/1.1 over node:net, for what fetch never does: pipelining (several requests written
// before any answer), requests split into pieces, and reading answers off the wire in order.
import { connect } from 'node:net';
import { sleep } from './ledger-process.js';

export interface RawResponse {
  readonly statusLine: string;
  readonly status: number;
  /** Header names lower-cased. */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

export interface RawExchange {
  readonly responses: RawResponse[];
  /** The server closed the connection (before the client did). */
  readonly closedByServer: boolean;
}

/** The safety net only: answers or a close come long before (uWS drops idle sockets at ~10 s). */
const deadlineMs = 20_000;

export function requestText(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): string {
  const text = body === undefined ? '' : JSON.stringify(body);
  const lines = [`${method} ${path} HTTP/1.1`, 'host: 127.0.0.1'];
  if (body !== undefined) {
    lines.push('content-type: application/json', `content-length: ${Buffer.byteLength(text)}`);
  }
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n${text}`;
}

/** Parses as many whole responses (content-length framed) as `text` holds, in order. */
export function parseResponses(text: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return responses;
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n');
    const headers = new Map(
      lines.map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
      }),
    );
    const length = Number(headers.get('content-length'));
    if (!Number.isInteger(length) || rest.length - end - 4 < length) return responses;
    const status = Number(statusLine.split(' ')[1]);
    responses.push({ statusLine, status, headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
}

/**
 * Writes `pieces` on one connection (`gapMs` apart), then reads until `expected` whole answers
 * came or the server closed the connection.
 */
export function pipeline(
  port: number,
  pieces: readonly string[],
  expected: number,
  gapMs = 0,
): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let closedByServer = true;
    const deadline = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close and ${parseResponses(received).length}/${expected} answers`));
    }, deadlineMs);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      if (parseResponses(received).length >= expected) {
        closedByServer = false;
        socket.destroy();
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(deadline);
      resolve({ responses: parseResponses(received), closedByServer });
    });
    socket.on('connect', async () => {
      for (const piece of pieces) {
        if (socket.destroyed) return;
        socket.write(piece);
        if (gapMs > 0) await sleep(gapMs);
      }
    });
  });
}
