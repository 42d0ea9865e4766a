// What a V8 heap snapshot of a ledger thread holds: the heaviest kinds of object by self size,
// and, with --with, how many objects have all the named properties (an object literal of the
// code, such as the HTTP thread's request exchange: traceId,servedBy,cancel) and what holds them.
// A snapshot is taken after a full collection, so it shows what is still reachable: whether
// something keeps a request's objects alive, or they only outlived a scavenge or two.
//
//   npm run bench -- --systems ledger --duration 30 --node-flag=--heapsnapshot-signal=SIGUSR2
//   kill -USR2 <the ledger's pid, printed as "ready at ... (pid N)">   # mid-run; the file lands in
//                                                                      # the ledger's cwd
//   npx tsx bench/heap-snapshot-summary.ts Heap.<...>.heapsnapshot [--with traceId,servedBy,cancel]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: string[];
      readonly node_types: [string[]];
      readonly edge_fields: string[];
      readonly edge_types: [string[]];
    };
  };
  readonly nodes: number[];
  readonly edges: number[];
  readonly strings: string[];
}

const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { with: { type: 'string' }, top: { type: 'string' } },
});
const file = positionals[0];
if (file === undefined) {
  out('usage: npx tsx bench/heap-snapshot-summary.ts FILE [--with a,b,c] [--top 15]');
  process.exit(2);
}
const heap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const meta = heap.snapshot.meta;
const [nodeStride, edgeStride] = [meta.node_fields.length, meta.edge_fields.length];
const field = (name: string): number => meta.node_fields.indexOf(name);
const [typeAt, nameAt, sizeAt, edgesAt] = ['type', 'name', 'self_size', 'edge_count'].map(field);
const edgeTypeAt = meta.edge_fields.indexOf('type');
const edgeNameAt = meta.edge_fields.indexOf('name_or_index');
const edgeToAt = meta.edge_fields.indexOf('to_node');
const { nodes, edges, strings } = heap;
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const count = nodes.length / nodeStride;
const at = (node: number, offset: number | undefined): number =>
  nodes[node * nodeStride + (offset ?? 0)] as number;
const typeOf = (node: number): string => nodeTypes[at(node, typeAt)] ?? '?';
const nameOf = (node: number): string => strings[at(node, nameAt)] ?? '?';

// Each node's edges start where the previous node's end.
const firstEdge = new Int32Array(count + 1);
for (let node = 0, edge = 0; node < count; node += 1) {
  firstEdge[node] = edge;
  edge += at(node, edgesAt) * edgeStride;
}
firstEdge[count] = edges.length;

function summarizeKinds(top: number): void {
  const kinds = new Map<string, { objects: number; bytes: number }>();
  let total = 0;
  for (let node = 0; node < count; node += 1) {
    const kind = `${typeOf(node)} ${nameOf(node).slice(0, 40).replace(/\s+/g, ' ')}`;
    const bytes = at(node, sizeAt);
    total += bytes;
    const entry = kinds.get(kind) ?? { objects: 0, bytes: 0 };
    entry.objects += 1;
    entry.bytes += bytes;
    kinds.set(kind, entry);
  }
  out(`${count.toLocaleString('en-US')} nodes, ${(total / 1e6).toFixed(1)} MB self size in all`);
  const heaviest = [...kinds].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top);
  for (const [kind, { objects, bytes }] of heaviest) {
    out(`  ${(bytes / 1e6).toFixed(2).padStart(7)} MB  ${String(objects).padStart(8)}  ${kind}`);
  }
}

function propertiesOf(node: number): string[] {
  const names: string[] = [];
  for (let edge = firstEdge[node] as number; edge < (firstEdge[node + 1] as number);) {
    if (edgeTypes[edges[edge + edgeTypeAt] as number] === 'property') {
      names.push(strings[edges[edge + edgeNameAt] as number] ?? '');
    }
    edge += edgeStride;
  }
  return names;
}

function summarizeWith(wanted: readonly string[]): void {
  const found = new Set<number>();
  for (let node = 0; node < count; node += 1) {
    if (typeOf(node) !== 'object') continue;
    const names = propertiesOf(node);
    if (wanted.every((name) => names.includes(name))) found.add(node * nodeStride);
  }
  out(`objects with every one of ${wanted.join(', ')}: ${found.size}`);
  const holders = new Map<string, number>();
  for (let node = 0; node < count; node += 1) {
    for (let edge = firstEdge[node] as number; edge < (firstEdge[node + 1] as number);) {
      if (found.has(edges[edge + edgeToAt] as number)) {
        const type = edgeTypes[edges[edge + edgeTypeAt] as number] ?? '?';
        const named =
          type === 'element' || type === 'hidden'
            ? '#'
            : strings[edges[edge + edgeNameAt] as number];
        const holder = `${typeOf(node)} ${nameOf(node)} --${type} ${named}-->`;
        holders.set(holder, (holders.get(holder) ?? 0) + 1);
      }
      edge += edgeStride;
    }
  }
  for (const [holder, times] of [...holders].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    out(`  ${String(times).padStart(8)}  ${holder}`);
  }
}

summarizeKinds(Number(values.top ?? 15));
if (values.with !== undefined) summarizeWith(values.with.split(','));
