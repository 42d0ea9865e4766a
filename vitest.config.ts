import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // uWS listeners left open under the threads pool abort the process; forks isolate them.
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
