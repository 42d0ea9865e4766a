// Snapshot rows written from a thread of their own. Sending a 16.5 MB bytea parameter costs node-pg
// several copies of it on the calling thread (7-49 ms for one such INSERT here, measured with a
// setImmediate probe): on a shard's thread that stalled its mailbox as much as the capture did.
// The shard hands each snapshot's blocks over (transferred, not copied) and this thread's
// connection does the rest. A failed write, or a thread that died, fails the write: the
// SnapshotWriter logs it, drops the snapshot (the WAL has every record) and starts a new thread
// for the next one.
import type { Worker } from 'node:worker_threads';
import { spawnWorker } from '../worker-script.js';
import type { SnapshotConnection, SnapshotWrite } from './journal-connection.js';

export interface SnapshotThreadData {
  readonly databaseUrl: string;
}

export type ToSnapshotThread =
  | { readonly kind: 'write'; readonly id: number; readonly row: SnapshotWrite }
  | { readonly kind: 'close'; readonly id: number };

export interface FromSnapshotThread {
  readonly id: number;
  readonly error?: string;
}

interface Pending {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class SnapshotThread implements SnapshotConnection {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private broken: Error | undefined;

  constructor(databaseUrl: string) {
    this.worker = spawnWorker(import.meta.url, 'snapshot-thread-worker', {
      databaseUrl,
    } satisfies SnapshotThreadData);
    this.worker.on('message', (message: FromSnapshotThread) => {
      const waiting = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error === undefined) waiting?.resolve();
      else waiting?.reject(new Error(message.error));
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`snapshot thread exited (${code})`)));
  }

  writeSnapshot(row: SnapshotWrite): Promise<void> {
    // The thread gets the blocks' memory; a view of a larger or shared buffer is copied first.
    const blocks = row.blocks.map((block) =>
      block.byteOffset === 0 && block.byteLength === block.buffer.byteLength
        ? block
        : Uint8Array.prototype.slice.call(block),
    );
    const transfer = { partition: row.partition, lsn: row.lsn, blocks };
    const buffers = blocks.map((block) => block.buffer as ArrayBuffer);
    return this.send({ kind: 'write', id: this.id(), row: transfer }, buffers);
  }

  /** Closes the thread's connection and ends the thread. */
  async close(): Promise<void> {
    if (this.broken === undefined) {
      await this.send({ kind: 'close', id: this.id() }, []).catch(() => undefined);
    }
    await this.worker.terminate();
  }

  private id(): number {
    this.nextId += 1;
    return this.nextId;
  }

  private send(message: ToSnapshotThread, transfer: ArrayBuffer[]): Promise<void> {
    if (this.broken !== undefined) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.pending.set(message.id, { resolve, reject });
      this.worker.postMessage(message, transfer);
    });
  }

  private fail(error: Error): void {
    this.broken ??= error;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const { reject } of waiting) reject(error);
  }
}
