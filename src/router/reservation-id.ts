// Reservation ids are UUIDs (version 8, the vendor-specific layout) whose first 16 bits are the
// partition, so confirm/release/GET route by the id alone; the other 106 bits are random.
import { randomUUID } from 'node:crypto';
import { partitionsMax } from '../limits.js';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function mintReservationId(partition: number): string {
  if (partition < 0 || partition >= partitionsMax) throw new RangeError(`partition ${partition}`);
  const random = randomUUID();
  const prefix = partition.toString(16).padStart(4, '0');
  return `${prefix}${random.slice(4, 14)}8${random.slice(15)}`;
}

/** The partition an id routes to, or -1 if the text is not one of our ids for this journal. */
export function reservationPartition(id: string, partitions: number): number {
  if (id.length !== 36 || !uuidPattern.test(id)) return -1;
  const partition = Number.parseInt(id.slice(0, 4), 16);
  return partition < partitions ? partition : -1;
}
