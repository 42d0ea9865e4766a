// When the ledger's threads had their code optimized: V8's code log of a run, one file per thread,
// summed second by second (bench/lib/v8-code-log.ts). A fresh ledger's first seconds under load
// are dearer than the next ones; this shows how long each thread went on optimizing (TurboFan
// code made, deoptimizations), and what it optimized last.
//
//   npm run bench -- --scenario hot-sku --duration 30 --warmup 0 \
//     --node-flag=--log-code --node-flag=--log-deopt --node-flag=--logfile=DIR/v8.log
//   npx tsx bench/v8-code-summary.ts DIR/*.log [--after 6] [--list 20]
//
// Seconds count from each thread's start (a shard starts a moment after the main thread; the
// load begins once the ledger is ready, a second or two in). --after S lists the functions a
// thread optimized from its second S on (the first --list of them).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { readIsolateLog, secondWhenMade } from './lib/v8-code-log.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    after: { type: 'string' },
    list: { type: 'string', default: '20' },
  },
});
if (positionals.length === 0) {
  throw new Error('usage: npx tsx bench/v8-code-summary.ts DIR/*.log [--after S] [--list N]');
}
const after = values.after === undefined ? undefined : Number(values.after);
const listed = Number(values.list);
const out = (line: string): boolean => process.stdout.write(`${line}\n`);

/** `second:count` for each second with any (the quiet ones left out). */
const bySecond = (counts: readonly number[]): string =>
  counts.flatMap((count, second) => (count > 0 ? [`${second}:${count}`] : [])).join(' ');

for (const file of positionals) {
  const code = readIsolateLog(readFileSync(file, 'utf8'));
  const deopts = code.deoptsBySecond.reduce((sum, count) => sum + count, 0);
  out(`== ${basename(file)}: ${code.role}, ${code.spanSeconds.toFixed(1)} s of log`);
  out(
    `  TurboFan code made: ${code.optimized.length} (half by second ${secondWhenMade(code, 0.5)}, ` +
      `nine tenths by ${secondWhenMade(code, 0.9)}); deoptimizations: ${deopts}`,
  );
  out(`  made, by second (second:count): ${bySecond(code.optimizedBySecond)}`);
  out(`  deoptimized, by second: ${bySecond(code.deoptsBySecond)}`);
  if (after !== undefined) {
    const late = code.optimized.filter((each) => each.atSeconds >= after);
    out(`  optimized from second ${after} on: ${late.length}; the first ${listed}:`);
    for (const each of late.slice(0, listed)) {
      out(`    ${each.atSeconds.toFixed(1)} s  ${each.name}`);
    }
  }
}
