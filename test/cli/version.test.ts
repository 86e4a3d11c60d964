// The version constant (src/cli/version.ts) stays package.json's.
import { describe, expect, it } from 'vitest'

describe('version', () => {
  it('matches package.json', async () => {
    const { readFileSync } = await import('node:fs')
    const { version } = await import('../../src/cli/version.js')
    expect(version).toBe(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version)
  })
})
