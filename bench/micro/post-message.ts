// What one message between two threads costs, as the HTTP thread and a shard send them: a
// `{ kind, payload }` object whose payload is an encoded batch, posted to a worker that only
// counts it. The payload's ArrayBuffer is transferred (as ShardChannel and the shard worker do),
// or copied by the structured clone. Prints the CPU of this process (both threads, and node's
// own) and the wall time per message: the cost a batch pays once, whatever it holds, and what
// fewer, fuller messages save.
//
//   npx tsx bench/micro/post-message.ts [--messages 200000] [--bytes 300,1500,6000] [--rounds 2]
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);

/** The receiving thread: it counts what it gets, and says how many once told to end. */
const receiver = `
const { parentPort } = require('node:worker_threads');
let received = 0;
parentPort.on('message', (message) => {
  received += 1;
  if (message.kind === 'end') parentPort.postMessage(received);
});
`;

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    bytes: { type: 'string', default: '300,1500,6000' },
    rounds: { type: 'string', default: '2' },
  },
});
const messages = Number(values.messages);
const sizes = values.bytes.split(',').map(Number);
const rounds = Number(values.rounds);
if (!(messages > 0) || sizes.some((size) => !(size > 0)) || !(rounds > 0)) {
  throw new Error('--messages, --bytes and --rounds want positive numbers');
}
const worker = new Worker(receiver, { eval: true });

async function run(bytes: number, transfer: boolean): Promise<string> {
  const source = new Uint8Array(bytes).fill(7);
  const cpuBefore = process.cpuUsage();
  const startedMs = performance.now();
  for (let index = 0; index < messages; index += 1) {
    const payload = new Uint8Array(bytes);
    payload.set(source);
    const message = { kind: 'requests', payload };
    if (transfer) worker.postMessage(message, [payload.buffer]);
    else worker.postMessage(message);
    // Let the worker keep up now and then, as a shard does between turns.
    if (index % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
  }
  worker.postMessage({ kind: 'end' });
  await new Promise((resolve) => worker.once('message', resolve));
  const cpu = process.cpuUsage(cpuBefore);
  const cpuUs = (cpu.user + cpu.system) / messages;
  const wallUs = ((performance.now() - startedMs) * 1000) / messages;
  return `| ${bytes} | ${transfer ? 'transferred' : 'copied'} | ${cpuUs.toFixed(2)} | ${wallUs.toFixed(2)} |`;
}

out(`node ${process.version}, ${messages} messages per row`);
out('| payload bytes | ArrayBuffer | process CPU µs/message | wall µs/message |');
out('| ---: | --- | ---: | ---: |');
for (let round = 0; round < rounds; round += 1) {
  for (const bytes of sizes) {
    out(await run(bytes, true));
    out(await run(bytes, false));
  }
}
await worker.terminate();
