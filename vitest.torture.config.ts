import { defineConfig } from 'vitest/config'

// The torture suite (npm run test:torture): crashes, hostile files, faults and an IMDS soak.
export default defineConfig({
  test: {
    include: ['test/torture/**/*.torture.ts'],
    setupFiles: ['test/setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
})
