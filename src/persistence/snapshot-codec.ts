// Snapshots as msgpack: the actors' positional tuples packed once per partition.
import { Packr } from 'msgpackr';
import type { PartitionSnapshot } from '../actors/index.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

// msgpackr packs into one buffer shared by every encoder of the thread and sizes new buffers
// like the last one: after a multi-megabyte snapshot, every small record or batch would land in
// (and keep alive) a buffer that large. Hand msgpackr a small fresh buffer after each snapshot.
const sharedBufferBytes = 8192;

export function encodeSnapshot(snapshot: PartitionSnapshot): Buffer {
  const payload = packr.pack(snapshot);
  packr.useBuffer(Buffer.allocUnsafeSlow(sharedBufferBytes));
  return payload;
}

export function decodeSnapshot(payload: Uint8Array): PartitionSnapshot {
  return packr.unpack(payload) as PartitionSnapshot;
}
