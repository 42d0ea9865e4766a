import { describe, expect, it } from 'vitest';
import { readIsolateLog, roleOf, secondWhenMade } from '../../../bench/lib/v8-code-log.js';

// Lines as V8 11.3 (Node 20) writes them with --log-code --log-deopt, trimmed to what is read.
const shardLog = [
  'v8-version,11,3,244,8,-node.38,0',
  'code-creation,Builtin,2,9542,0x18c4000,768,DeoptimizationEntry_Eager',
  'code-creation,JS,10,29088,0x39c736a4ad66,120, node:internal/main/run_main_module:1:1,0x39c736a4abf0,~',
  'code-creation,Script,10,30000,0x1,10, file:///app/dist/src/shards/shard-worker.js,0x2,~',
  'code-creation,JS,12,2500000,0x3,400,add file:///app/dist/src/actors/pending-holds.js:270:8,0x4,^',
  'code-creation,JS,13,2600000,0x5,900,add file:///app/dist/src/actors/pending-holds.js:270:8,0x4,*',
  'code-creation,JS,13,5100000,0x6,900,insert file:///a,b/hash-index.js:60:3,0x7,*',
  'code-deopt,5400000,1792,0x6,-1,4273,deopt-eager,<hash-index.js:60:3>,wrong map',
  'code-creation,JS,13,5500000,0x8,900,insert file:///a,b/hash-index.js:60:3,0x7,*',
  'code-creation,JS,13,not-a-time,0x8,900,broken,0x7,*',
  '',
].join('\n');

describe('the V8 code log of a thread', () => {
  it('counts TurboFan code by second of the log, and the deoptimizations', () => {
    const code = readIsolateLog(shardLog);
    expect(code.role).toBe('shard');
    expect(code.optimizedBySecond).toEqual([0, 0, 1, 0, 0, 2]);
    expect(code.deoptsBySecond).toEqual([0, 0, 0, 0, 0, 1]);
    expect(code.optimized.map((each) => each.name)).toEqual([
      'add file:///app/dist/src/actors/pending-holds.js:270:8',
      // A name with a comma in its script's path is read whole.
      'insert file:///a,b/hash-index.js:60:3',
      'insert file:///a,b/hash-index.js:60:3',
    ]);
    expect(code.spanSeconds).toBeCloseTo(5.5);
  });

  it('says by which second a share of the optimizing was done', () => {
    const code = readIsolateLog(shardLog);
    expect(secondWhenMade(code, 0.3)).toBe(3);
    expect(secondWhenMade(code, 0.9)).toBe(6);
    expect(secondWhenMade(readIsolateLog('v8-version,11\n'), 0.5)).toBe(0);
  });

  it("names a thread's part by the ledger's scripts its code came from", () => {
    expect(roleOf('x file:///d/snapshot-thread-worker.js y main.js')).toBe('snapshot thread');
    expect(roleOf('x file:///d/events-worker.js')).toBe('events publisher');
    expect(roleOf('x file:///d/dist/src/main.js')).toBe('main (HTTP)');
    expect(roleOf('node:internal only')).toBe('other');
  });
});
