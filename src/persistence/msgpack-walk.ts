// Walks msgpack bytes without decoding them: where a value ends, and an array's or a map's
// header. What lets a snapshot's large runs of tuples stay bytes until each is visited
// (snapshot-codec.ts); msgpackr decodes every value it is given, all at once.

/** An array's or a map's header: how many elements (a map's pairs), and where they start. */
export interface Header {
  readonly kind: 'array' | 'map';
  readonly count: number;
  readonly start: number;
}

const uint16 = (bytes: Uint8Array, at: number): number =>
  ((bytes[at] as number) << 8) | (bytes[at + 1] as number);

const uint32 = (bytes: Uint8Array, at: number): number =>
  (bytes[at] as number) * 0x1000000 + (uint16(bytes, at + 1) << 8) + (bytes[at + 3] as number);

/** The header of the array or map at `at`; anything else there is an error. */
export function headerAt(bytes: Uint8Array, at: number): Header {
  const type = bytes[at];
  if (type === undefined) throw new RangeError(`msgpack ends before offset ${at}`);
  if (type >= 0x90 && type <= 0x9f) return { kind: 'array', count: type - 0x90, start: at + 1 };
  if (type >= 0x80 && type <= 0x8f) return { kind: 'map', count: type - 0x80, start: at + 1 };
  if (type === 0xdc) return { kind: 'array', count: uint16(bytes, at + 1), start: at + 3 };
  if (type === 0xdd) return { kind: 'array', count: uint32(bytes, at + 1), start: at + 5 };
  if (type === 0xde) return { kind: 'map', count: uint16(bytes, at + 1), start: at + 3 };
  if (type === 0xdf) return { kind: 'map', count: uint32(bytes, at + 1), start: at + 5 };
  throw new TypeError(`msgpack at offset ${at} is no array or map (0x${type.toString(16)})`);
}

/** Where the `count` values that start at `at` end. */
export function skipValues(bytes: Uint8Array, at: number, count: number): number {
  let position = at;
  let left = count;
  while (left > 0) {
    left -= 1;
    const type = bytes[position];
    if (type === undefined) throw new RangeError(`msgpack ends before offset ${position}`);
    if (type <= 0x7f || type >= 0xe0) {
      position += 1; // fixint
    } else if (type <= 0x8f) {
      left += 2 * (type - 0x80); // fixmap: its pairs come next
      position += 1;
    } else if (type <= 0x9f) {
      left += type - 0x90; // fixarray
      position += 1;
    } else if (type <= 0xbf) {
      position += 1 + type - 0xa0; // fixstr
    } else if (type === 0xdc || type === 0xde) {
      left += (type === 0xde ? 2 : 1) * uint16(bytes, position + 1); // array 16, map 16
      position += 3;
    } else if (type === 0xdd || type === 0xdf) {
      left += (type === 0xdf ? 2 : 1) * uint32(bytes, position + 1); // array 32, map 32
      position += 5;
    } else {
      position = scalarEnd(bytes, position, type);
    }
  }
  // A length read past the end is NaN: not within the bytes either.
  if (!(position <= bytes.length)) throw new RangeError(`msgpack ends before its last value`);
  return position;
}

/** Where the value of type 0xc0–0xdb at `at` ends (a scalar, a string, bytes or an extension). */
function scalarEnd(bytes: Uint8Array, at: number, type: number): number {
  switch (type) {
    case 0xc0: // nil, false, true
    case 0xc2:
    case 0xc3:
      return at + 1;
    case 0xc4: // bin 8, str 8
    case 0xd9:
      return at + 2 + (bytes[at + 1] as number);
    case 0xc5: // bin 16, str 16
    case 0xda:
      return at + 3 + uint16(bytes, at + 1);
    case 0xc6: // bin 32, str 32
    case 0xdb:
      return at + 5 + uint32(bytes, at + 1);
    case 0xc7: // ext 8, 16, 32: a type byte after the length
      return at + 3 + (bytes[at + 1] as number);
    case 0xc8:
      return at + 4 + uint16(bytes, at + 1);
    case 0xc9:
      return at + 6 + uint32(bytes, at + 1);
    case 0xcc: // uint 8, int 8
    case 0xd0:
      return at + 2;
    case 0xcd: // uint 16, int 16
    case 0xd1:
      return at + 3;
    case 0xca: // float 32, uint 32, int 32
    case 0xce:
    case 0xd2:
      return at + 5;
    case 0xcb: // float 64, uint 64, int 64
    case 0xcf:
    case 0xd3:
      return at + 9;
    case 0xd4: // fixext 1, 2, 4, 8, 16
      return at + 3;
    case 0xd5:
      return at + 4;
    case 0xd6:
      return at + 6;
    case 0xd7:
      return at + 10;
    case 0xd8:
      return at + 18;
    default:
      throw new TypeError(`msgpack type 0x${type.toString(16)} at offset ${at}`);
  }
}
