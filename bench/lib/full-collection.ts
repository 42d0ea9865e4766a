// A full collection on demand in a bench's own process, without starting node with --expose-gc:
// V8's flag is set once this module loads, and `gc` is taken from a fresh context (where V8 puts
// it once the flag is on). For figures that must not count garbage (what a structure holds, the
// resident set a measurement starts from).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');

/** Collects the whole heap, old generation included, now. */
export const fullCollection = runInNewContext('gc') as () => void;
