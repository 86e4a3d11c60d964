// The settings file as install renders it, with its checksum (src/systemd/environment-file.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readEnvironmentFile } from '../../src/settings/settings-file.js'
import { isUneditedEnvironmentFile, renderEnvironmentFile } from '../../src/systemd/environment-file.js'

const settings = [['IID_DOCKER_AUTH_REGISTRIES', 'pierone.example.com']] as const

describe('the environment file', () => {
  it('carries a checksum that tells an untouched file from an edited one', () => {
    const text = renderEnvironmentFile([...settings, ['IID_DOCKER_AUTH_CONFIG', '/root/.docker/config.json']])
    expect(text).toContain('IID_DOCKER_AUTH_REGISTRIES=pierone.example.com\n')
    expect(isUneditedEnvironmentFile(text)).toBe(true)
    expect(isUneditedEnvironmentFile(text.replace('pierone', 'other'))).toBe(false)
    expect(isUneditedEnvironmentFile(`${text}IID_DOCKER_AUTH_TIMEOUT=5\n`)).toBe(false)
    expect(isUneditedEnvironmentFile('IID_DOCKER_AUTH_REGISTRIES=x\n')).toBe(false)
  })

  it('reads back exactly what install wrote (one quoting rule for both sides)', () => {
    const settings = [
      ['IID_DOCKER_AUTH_REGISTRIES', 'a.example.com,b.example.com:5000'],
      ['IID_DOCKER_AUTH_CONFIG', '/home/my user/.docker/config.json,/srv/"quoted"\\dir/100%/config.json'],
      ['IID_DOCKER_AUTH_USERNAME', 'svc'],
    ] as const
    const dir = mkdtempSync(join(tmpdir(), 'iid-env-'))
    try {
      writeFileSync(join(dir, 'env'), renderEnvironmentFile(settings))
      expect(readEnvironmentFile(join(dir, 'env'))).toEqual(Object.fromEntries(settings))
      expect(readEnvironmentFile(join(dir, 'missing'))).toEqual({})
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses a value with a line break', () => {
    expect(() => renderEnvironmentFile([['IID_DOCKER_AUTH_CONFIG', 'a\nIID_DOCKER_AUTH_ENDPOINT=http://evil']])).toThrow(/line break/)
  })
})
