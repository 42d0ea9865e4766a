// The durable floor's commit thread (bare-uws-commit with BARE_UWS_COMMIT_HOP=1): batches of
// requests come from the HTTP thread as the ledger's commands go to a shard (one msgpack message
// per turn, its buffer transferred), each is encoded as a row, committed in group commits
// (floor-commit.ts), and the ids of the committed ones go back in one message per commit.
import { parentPort, workerData } from 'node:worker_threads';
import { Packr } from 'msgpackr';
import { FloorCommit, type JournalMode } from '../lib/floor-commit.js';

const port = parentPort;
if (port === null) throw new Error('floor-commit-worker runs as a worker thread');
const packr = new Packr();
const { databaseUrl, journal } = workerData as { databaseUrl?: string; journal?: JournalMode };
const floor = await FloorCommit.open(databaseUrl, journal);

/** Ids committed (and failed) since the last message back, sent once per turn. */
let committed: number[] = [];
let failed: number[] = [];
let replying = false;

function reply(): void {
  replying = false;
  // A buffer of its own, as the ledger's batches: msgpackr returns views into a buffer it
  // shares across packs, and transferring that one would empty the rows packed into it.
  const payload = new Uint8Array(packr.pack([committed, failed]));
  committed = [];
  failed = [];
  port?.postMessage(payload, [payload.buffer as ArrayBuffer]);
}

port.on('message', (message: Uint8Array | 'stop') => {
  if (message === 'stop') {
    void floor.close().then(() => port.close());
    return;
  }
  const batch = packr.unpack(message) as [id: number, request: unknown][];
  for (const [id, request] of batch) {
    floor.add(packr.pack(request), request, (error) => {
      if (error === undefined) committed.push(id);
      else failed.push(id);
      if (!replying) {
        replying = true;
        queueMicrotask(reply);
      }
    });
  }
});
port.postMessage('ready');
