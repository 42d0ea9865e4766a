// `npx tsx bench/alloc-profile-summary.ts FILE [--top 25] [--callers NAME]`: a .heapprofile
// written by bench/lib/alloc-profile.mjs, summed by function (the allocating frame: its name, file
// and line in the compiled code), largest first, as shares of all the bytes sampled. With
// `--callers NAME`, the bytes allocated in functions of that name, summed by the five frames that
// called them (innermost last): who asked for them.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { integerFlag } from './lib/args.js';

interface ProfileNode {
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

const { values, positionals } = parseArgs({
  options: { top: { type: 'string' }, callers: { type: 'string' } },
  allowPositionals: true,
});
const file = positionals[0];
if (file === undefined) {
  throw new Error('usage: alloc-profile-summary.ts FILE [--top 25] [--callers NAME]');
}
const top = integerFlag('top', { defaultValue: 25, min: 1, max: 1000 }, values.top);
const profile = JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode };

const bytesBySite = new Map<string, number>();
const callersOf = values.callers;
let total = 0;
// Each node with the sites of the frames above it.
const pending: [ProfileNode, readonly string[]][] = [[profile.head, []]];
for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
  const [node, above] = next;
  const frame = node.callFrame;
  // Paths from the repository's dist/ or node_modules/ on, so the lines read the same anywhere.
  const where = frame.url.replace(/^.*\/(dist|node_modules)\//, '$1/');
  const site = `${frame.functionName === '' ? '(anonymous)' : frame.functionName} ${where}:${frame.lineNumber + 1}`;
  total += node.selfSize;
  if (callersOf === undefined) {
    bytesBySite.set(site, (bytesBySite.get(site) ?? 0) + node.selfSize);
  } else if (frame.functionName === callersOf && node.selfSize > 0) {
    const path = above.slice(-5).join(' > ');
    bytesBySite.set(path, (bytesBySite.get(path) ?? 0) + node.selfSize);
  }
  const path = callersOf === undefined ? above : [...above, site];
  for (const child of node.children) pending.push([child, path]);
}
process.stdout.write(`${(total / 1e6).toFixed(0)} MB sampled\n`);
const sites = [...bytesBySite].sort((a, b) => b[1] - a[1]).slice(0, top);
for (const [site, bytes] of sites) {
  process.stdout.write(`${((bytes / total) * 100).toFixed(1).padStart(5)}%  ${site}\n`);
}
