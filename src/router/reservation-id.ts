// Reservation ids are UUIDs (version 8, the vendor-specific layout) whose first 16 bits are the
// partition, so confirm/release/GET route by the id alone; the other 106 bits are random (the
// variant's two bits fixed, as RFC 9562 has them).
import { randomFillSync } from 'node:crypto';
import { partitionsMax } from '../limits.js';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// Minted on the HTTP thread for every reserve. crypto.randomUUID builds its text of twenty
// concatenated pieces, and the partition prefix and the version digit made three more strings:
// the HTTP thread's largest allocation site (bench/README.md, "Where each thread's allocation
// comes from"). Here the text is written as bytes into one buffer and read out as a single
// string; the random bytes come from a pool refilled from the same CSPRNG.
const randomBytesPerId = 14;
const pool = Buffer.alloc(randomBytesPerId * 256);
let poolUsed = pool.length;
const text = Buffer.alloc(36);
const hexDigits = Buffer.from('0123456789abcdef', 'latin1');
// Where each random hex digit goes: the 26 after the partition's four, around the dashes, the
// version digit and the variant digit (14 and 19).
const randomPlaces = [
  4, 5, 6, 7, 9, 10, 11, 12, 15, 16, 17, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
];
text.write('0000xxxx-xxxx-8xxx-8xxx-xxxxxxxxxxxx', 'latin1');

export function mintReservationId(partition: number): string {
  if (!Number.isInteger(partition) || partition < 0 || partition >= partitionsMax) {
    throw new RangeError(`partition ${partition}`);
  }
  if (poolUsed + randomBytesPerId > pool.length) {
    randomFillSync(pool);
    poolUsed = 0;
  }
  for (let place = 0; place < 4; place += 1) {
    text[place] = hexDigits[(partition >> (12 - place * 4)) & 15] as number;
  }
  // 13 bytes: 26 random hex digits; a 14th gives the variant's two random bits (8, 9, a or b).
  for (let digit = 0; digit < randomPlaces.length; digit += 1) {
    const byte = pool[poolUsed + (digit >> 1)] as number;
    text[randomPlaces[digit] as number] = hexDigits[digit & 1 ? byte & 15 : byte >> 4] as number;
  }
  text[19] = hexDigits[8 | ((pool[poolUsed + 13] as number) & 3)] as number;
  poolUsed += randomBytesPerId;
  return text.toString('latin1');
}

/** The partition an id routes to, or -1 if the text is not one of our ids for this journal. */
export function reservationPartition(id: string, partitions: number): number {
  if (id.length !== 36 || !uuidPattern.test(id)) return -1;
  const partition = Number.parseInt(id.slice(0, 4), 16);
  return partition < partitions ? partition : -1;
}
