// The snapshot thread (snapshot-thread.ts): one connection, one snapshot row at a time.
import { parentPort, workerData } from 'node:worker_threads';
import { JournalStore } from './journal-store.js';
import type {
  FromSnapshotThread,
  SnapshotThreadData,
  ToSnapshotThread,
} from './snapshot-thread.js';

const data = workerData as SnapshotThreadData;
if (parentPort === null) throw new Error('snapshot-thread-worker must run in a worker thread');
const port = parentPort;
let store: JournalStore | undefined;

const reply = (message: FromSnapshotThread): void => port.postMessage(message);

async function drop(): Promise<void> {
  const closing = store;
  store = undefined;
  await closing?.close().catch(() => undefined);
}

async function handle(message: ToSnapshotThread): Promise<void> {
  if (message.kind === 'close') {
    await drop();
    reply({ id: message.id });
    port.close();
    return;
  }
  try {
    // A connection that fails makes its write fail: the shard's writer then drops this thread.
    store ??= await JournalStore.connect(data.databaseUrl, { onError: () => undefined });
    await store.writeSnapshot(message.row);
    reply({ id: message.id });
  } catch (error) {
    await drop();
    reply({ id: message.id, error: error instanceof Error ? error.message : String(error) });
  }
}

// One at a time, in order (the shard's SnapshotWriter sends one and waits for it anyway).
let queue = Promise.resolve();
port.on('message', (message: ToSnapshotThread) => {
  queue = queue.then(() => handle(message));
});
