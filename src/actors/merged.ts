// A copy of an object with more properties, for objects made on a request's path: what
// `{ ...base, ...more }` means, without what it costs when the copy gains a property `base`
// lacks. In the V8 of Node 20 an object begun as a spread copy that then gains a property gets a
// hidden class of its own: five to eight times the time, and about 200 bytes (the class's
// descriptors) that every scavenge until the next full collection keeps and then promotes
// (bench/micro/promotion-sources.ts). Object.assign onto a new empty object follows the shared
// transitions instead. A spread that only copies, or only overwrites, is not affected.
// The parts are the ledger's own objects: a part with an own `__proto__` key (as JSON.parse can
// make) would set the copy's prototype through Object.assign, where a spread defines a property.

/** A part that may be left out: its properties, or none. */
type Part = object | undefined;
type Props<P extends Part> = P extends object ? P : unknown;

/**
 * `{ ...base, ...more, ...rest }`; an undefined part adds nothing. The type names what `more`
 * adds; what the rest add is for the caller's declared type to say.
 */
export function merged<A extends object, B extends Part>(
  base: A,
  more: B,
  ...rest: Part[]
): A & Props<B> {
  return Object.assign({}, base, more, ...rest) as A & Props<B>;
}
