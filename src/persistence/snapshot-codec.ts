// Snapshots as msgpack: the actors' positional tuples packed once per partition.
import { Packr } from 'msgpackr';
import type { PartitionSnapshot } from '../actors/index.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

export function encodeSnapshot(snapshot: PartitionSnapshot): Buffer {
  return packr.pack(snapshot);
}

export function decodeSnapshot(payload: Uint8Array): PartitionSnapshot {
  return packr.unpack(payload) as PartitionSnapshot;
}
