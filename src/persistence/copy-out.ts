// One `COPY ... TO STDOUT` on a pg client, its data handed over where it lies in what the socket
// read: recovery's read path, which moves every byte of the journal.
//
// pg-copy-streams, which the journal was read through before, made a Buffer of every message (a
// row) and copied each read's messages into one more; the COPY reader then copied nearly every
// chunk again, joined to what was left of the one before. Here the socket's chunks are cut by the
// protocol's own framing, in place: a CopyData message's bytes go to `onData` as a range of the
// chunk they came in, in pieces when a message spans chunks (a reader of the COPY format copes
// with any cut: wal-copy-reader.ts). Only a message header cut by a chunk's end (5 bytes at
// most) is ever copied. With it a cold start of a million records took 0.90-0.93 of the time and
// CPU it took before (the retained holds' byte arena, which came with it, alone made no
// difference beyond the noise: bench/README.md, "The journal read where the socket puts it").
//
// The query takes the connection's socket from pg for the statement's data, as pg-copy-streams
// does: pg's one `data` listener is set aside at submit, and given back, with the bytes not read
// yet, at the first message that is not the copy's (CopyDone's successor, or an ErrorResponse,
// which pg then reports through `handleError`). The statement is over at ReadyForQuery. A throw
// of `onData` stops the handing over; the rest of the statement is read and dropped (the
// connection stays usable), and the throw is what the promise rejects with.
import type { Connection, Submittable } from 'pg';
import type pg from 'pg';

/** A piece of the COPY data: `bytes[start, end)`, valid for as long as the caller holds it. */
export type CopyDataSink = (bytes: Buffer, start: number, end: number) => void;

// Backend message codes (PostgreSQL docs, "Message Formats").
const copyData = 0x64; // 'd'
const copyDone = 0x63; // 'c'
const copyOutResponse = 0x48; // 'H'
const noticeResponse = 0x4e; // 'N'
const parameterStatus = 0x53; // 'S'
const notificationResponse = 0x41; // 'A'
/** A code byte and a 32-bit length that counts itself. */
const headerBytes = 5;

type DataListener = (chunk: Buffer) => void;

/** The query pg runs (exported for its test, which feeds it a socket by hand). */
export class CopyOutQuery implements Submittable {
  /** Set by pg's query_timeout wrapper or by `copyOut`: called once, when the statement is over. */
  callback: ((error?: Error) => void) | undefined = undefined;
  private stream: Connection['stream'] | undefined = undefined;
  private pgListener: DataListener | undefined = undefined;
  private readonly listener: DataListener = (chunk) => this.onChunk(chunk);
  /** Bytes of a message header cut by a chunk's end. */
  private held: Buffer | undefined = undefined;
  /** What is left of the current CopyData message's bytes, or of a message skipped. */
  private dataLeft = 0;
  private skipLeft = 0;
  private failure: { readonly error: Error } | undefined = undefined;
  private settled = false;

  constructor(
    private readonly text: string,
    private readonly onData: CopyDataSink,
  ) {}

  submit(connection: Connection): void {
    const stream = connection.stream;
    const listeners = stream.listeners('data') as DataListener[];
    if (listeners.length !== 1) {
      throw new Error(`a pg connection with ${listeners.length} data listeners, not 1`);
    }
    this.stream = stream;
    this.pgListener = listeners[0];
    stream.removeListener('data', this.pgListener as DataListener);
    stream.on('data', this.listener);
    connection.query(this.text);
  }

  private onChunk(chunk: Buffer): void {
    const end = chunk.length;
    let offset = 0;
    while (offset < end) {
      if (this.dataLeft > 0) {
        const to = Math.min(end, offset + this.dataLeft);
        this.deliver(chunk, offset, to);
        this.dataLeft -= to - offset;
        offset = to;
        continue;
      }
      if (this.skipLeft > 0) {
        const to = Math.min(end, offset + this.skipLeft);
        this.skipLeft -= to - offset;
        offset = to;
        continue;
      }
      // A message starts here (or in the bytes held from the chunk before).
      let header = chunk;
      let at = offset;
      let after = offset + headerBytes;
      if (this.held !== undefined || end - offset < headerBytes) {
        const held = this.held ?? Buffer.alloc(0);
        const needed = headerBytes - held.length;
        if (end - offset < needed) {
          this.held = Buffer.concat([held, chunk.subarray(offset)]);
          return;
        }
        header = Buffer.concat([held, chunk.subarray(offset, offset + needed)]);
        this.held = undefined;
        at = 0;
        after = offset + needed;
      }
      const code = header[at] as number;
      const contentBytes = header.readInt32BE(at + 1) - 4;
      if (code === copyData) {
        this.dataLeft = contentBytes;
      } else if (
        code === copyOutResponse ||
        code === noticeResponse ||
        code === parameterStatus ||
        code === notificationResponse
      ) {
        this.skipLeft = contentBytes;
      } else if (code === copyDone) {
        this.giveBack(chunk.subarray(after));
        return;
      } else {
        // CommandComplete, an ErrorResponse, or anything else: pg reads it from its first byte.
        const rest = chunk.subarray(after);
        this.giveBack(header === chunk ? chunk.subarray(offset) : Buffer.concat([header, rest]));
        return;
      }
      offset = after;
    }
  }

  private deliver(chunk: Buffer, start: number, end: number): void {
    if (this.failure !== undefined) return;
    try {
      this.onData(chunk, start, end);
    } catch (error) {
      this.failure = { error: error instanceof Error ? error : new Error(String(error)) };
    }
  }

  /** The socket back to pg, with the bytes it has not read yet. */
  private giveBack(unread: Buffer): void {
    const { stream, pgListener } = this;
    if (stream === undefined || pgListener === undefined) return;
    this.stream = undefined;
    stream.removeListener('data', this.listener);
    stream.on('data', pgListener);
    if (unread.length > 0) pgListener(unread);
  }

  private settle(error: Error | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.callback?.(error);
  }

  // pg's side of a submitted query. An error ends it at once (pg forgets the query then); a
  // statement that ends well ends at ReadyForQuery. A timeout of pg's leaves the socket with this
  // query until its statement is read to the end, which pg then sees.
  handleError(error: Error): void {
    this.settle(this.failure?.error ?? error);
  }

  handleReadyForQuery(): void {
    this.settle(this.failure?.error);
  }

  handleCommandComplete(): void {}

  // A statement that is not a COPY TO STDOUT: refused, its results dropped.
  handleRowDescription(): void {
    this.failure ??= { error: new Error('copyOut runs COPY ... TO STDOUT only') };
  }

  handleDataRow(): void {}

  handleEmptyQuery(): void {
    this.handleRowDescription();
  }

  handleCopyInResponse(connection: Connection): void {
    this.handleRowDescription();
    (connection as unknown as { sendCopyFail(message: string): void }).sendCopyFail(
      'copyOut reads only',
    );
  }

  handleCopyData(): void {}
}

/** Runs `text` (a `COPY ... TO STDOUT`) on `client`, its data handed to `onData` as it comes. */
export function copyOut(client: pg.ClientBase, text: string, onData: CopyDataSink): Promise<void> {
  return new Promise((resolve, reject) => {
    const query = new CopyOutQuery(text, onData);
    query.callback = (error) => (error === undefined ? resolve() : reject(error));
    client.query(query);
  });
}
