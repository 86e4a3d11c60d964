// runWrite in-process, for what only an interleaving can show: another writer changing the file
// between our read and our rename.
import { mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { validateIdentity } from '../../src/imds/identity.js'
import type { Logger } from '../../src/log.js'
import { resolveSettings } from '../../src/settings/settings.js'
import { defaultDocumentFields, formatDocument, signLikeEc2 } from '../../sim/imds-simulator.js'
import { runWrite } from '../../src/commands/write.js'
import { withTempSteps } from '../support/fs-steps.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'iid-write-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const document = formatDocument(defaultDocumentFields)
const identity = validateIdentity(document, signLikeEc2(document, 'pkcs7'))
const debug: string[] = []
const log: Logger = { error: () => {}, fix: () => {}, warn: () => {}, info: () => {}, debug: (m) => debug.push(m) }

/** Docker's way of saving: a whole new file renamed over the old one, no lock. */
function dockerStyleSave(path: string, mutate: (config: Record<string, any>) => void): void {
  const config = JSON.parse(readFileSync(path, 'utf8'))
  mutate(config)
  writeFileSync(`${path}.docker-tmp`, JSON.stringify(config, null, '\t'))
  renameSync(`${path}.docker-tmp`, path)
}

describe('runWrite', () => {
  it('re-reads and re-merges when another writer changes the file just before our rename', async () => {
    const config = join(dir, 'config.json')
    writeFileSync(config, '{"auths":{}}')
    const options = resolveSettings({ registry: ['r.example.com'], config: [config] }, {})
    let interfered = 0
    const result = await runWrite(options, [{ path: config, source: '--config' }], {
      log,
      lockTimeoutMs: 1000,
      fetchIdentity: async () => identity,
      // Docker saves between our temp file and the re-check before our rename.
      fs: withTempSteps({
        closed: () => {
          if (interfered++ === 0) dockerStyleSave(config, (c) => (c.auths['docker-login.example.com'] = { auth: 'dTpw' }))
        },
      }),
    })
    expect(result.exitCode).toBe(0)
    expect(interfered).toBe(2)
    expect(debug.some((m) => m.includes('changed while we were writing it; merging again'))).toBe(true)
    expect(Object.keys(JSON.parse(readFileSync(config, 'utf8')).auths)).toEqual(['docker-login.example.com', 'r.example.com'])
  })

  it('gives up with exit 73 when the file keeps changing, leaving the other writer’s version', async () => {
    const config = join(dir, 'config.json')
    writeFileSync(config, '{"auths":{}}')
    const options = resolveSettings({ registry: ['r.example.com'], config: [config] }, {})
    let n = 0
    const result = await runWrite(options, [{ path: config, source: '--config' }], {
      log,
      lockTimeoutMs: 1000,
      fetchIdentity: async () => identity,
      fs: withTempSteps({ closed: () => dockerStyleSave(config, (c) => (c.n = ++n)) }),
    })
    expect(result.exitCode).toBe(73)
    expect(result.configs[0]!.error!.message).toMatch(/kept changing/)
    expect(JSON.parse(readFileSync(config, 'utf8'))).toEqual({ auths: {}, n: 5 })
    expect(readdirSync(dir)).toEqual(['config.json'])
  })
})
