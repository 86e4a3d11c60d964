import { defineConfig } from 'vitest/config'

// The torture suite (npm run test:torture): crashes, hostile files, faults and an IMDS soak.
export default defineConfig({
  test: {
    // The regular suite's real-mount and writer fault tests belong to the torture suite as well.
    include: ['test/torture/**/*.torture.ts', 'test/e2e/cli-mounts.e2e.test.ts', 'test/fs/config-file.test.ts'],
    setupFiles: ['test/setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
})
