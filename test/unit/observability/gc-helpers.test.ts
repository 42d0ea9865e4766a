import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { gcHelperAdvice, v8PoolSize } from '../../../src/observability/gc-helpers.js';

describe('v8PoolSize', () => {
  it('reads the pool size from node flags, then from NODE_OPTIONS', () => {
    expect(v8PoolSize([], undefined)).toBeUndefined();
    expect(v8PoolSize(['--enable-source-maps'], '--max-old-space-size=4096')).toBeUndefined();
    expect(v8PoolSize(['--v8-pool-size=1'], undefined)).toBe(1);
    expect(v8PoolSize([], '--enable-source-maps --v8-pool-size=2')).toBe(2);
    expect(v8PoolSize([], '--v8-pool-size 3 --trace-warnings')).toBe(3);
    // The command line's own flag wins over NODE_OPTIONS, as in node.
    expect(v8PoolSize(['--v8-pool-size=1'], '--v8-pool-size=4')).toBe(1);
  });

  it('takes no other flag for it', () => {
    expect(v8PoolSize(['--v8-pool-sizes=1'], undefined)).toBeUndefined();
    expect(v8PoolSize([], '--x-v8-pool-size=1')).toBeUndefined();
    expect(v8PoolSize([], '--v8-pool-size=1x')).toBeUndefined();
  });

  it('reads what node itself was started with', () => {
    const script =
      "import('./src/observability/gc-helpers.ts').then(({ v8PoolSize }) => " +
      'process.stdout.write(String(v8PoolSize(process.execArgv, process.env.NODE_OPTIONS))))';
    const run = (args: string[], nodeOptions: string | undefined): string => {
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
      if (nodeOptions !== undefined) env.NODE_OPTIONS = nodeOptions;
      const result = spawnSync(process.execPath, [...args, '--import', 'tsx', '-e', script], {
        env,
        encoding: 'utf8',
      });
      expect(result.stderr).toBe('');
      return result.stdout;
    };
    expect(run([], undefined)).toBe('undefined');
    expect(run(['--v8-pool-size=1'], undefined)).toBe('1');
    expect(run([], '--v8-pool-size=2')).toBe('2');
  });
});

describe('gcHelperAdvice', () => {
  it('advises one helper on two cores or fewer when no pool size was chosen', () => {
    expect(gcHelperAdvice(2, undefined)).toMatch(/NODE_OPTIONS=--v8-pool-size=1/);
    expect(gcHelperAdvice(1, undefined)).toMatch(/^1 core and/);
  });

  it('says nothing with more cores or a pool size chosen, whatever it is', () => {
    expect(gcHelperAdvice(4, undefined)).toBeUndefined();
    expect(gcHelperAdvice(2, 1)).toBeUndefined();
    expect(gcHelperAdvice(2, 4)).toBeUndefined();
  });
});
