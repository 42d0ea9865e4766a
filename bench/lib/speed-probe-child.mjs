// The speed probe's own process (bench/lib/speed-probe.ts starts it): every 100 ms it does one
// unit of fixed work, the same instructions each time (15,000 dependent reads at pseudo-random
// places of a 4 MB table, in cache and out of it), and writes one line to stdout:
//
//   <epoch ms at the unit's end> <CPU µs the unit took>
//
// The CPU time is the process's own (process.cpuUsage), so waiting for a core is not in it; what
// makes it longer is the machine running the same instructions slower (a busy host under the VM,
// its caches and memory shared). It stops when its parent ends it, or by itself after argv[2]
// seconds. About 2% of one core.
const seconds = Number(process.argv[2] ?? 60);
const table = new Int32Array(1 << 20);
for (let index = 0; index < table.length; index += 1) {
  table[index] = Math.imul(index, 0x9e3779b1) >>> 12;
}

function unit() {
  let sum = 0;
  let at = 1;
  for (let step = 0; step < 15_000; step += 1) {
    at = (Math.imul(at, 1_103_515_245) + 12_345 + sum) & 0xfffff;
    sum = (sum + table[at]) | 0;
  }
  return sum;
}

let sink = 0;
const endMs = Date.now() + seconds * 1000;
function tick() {
  const before = process.cpuUsage();
  sink ^= unit();
  const used = process.cpuUsage(before);
  process.stdout.write(`${Date.now()} ${used.user + used.system}\n`);
  if (Date.now() < endMs) setTimeout(tick, 100);
}
// Warm the unit up first, so the first lines are not the JIT's.
for (let round = 0; round < 20; round += 1) sink ^= unit();
setTimeout(tick, 100);
// Keeps the work observable, so no compiler drops it.
process.on('exit', () => {
  if (sink === 0x7fffffff) process.stderr.write('\n');
});
