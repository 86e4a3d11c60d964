// The settings file read as systemd reads an EnvironmentFile= (src/basic/env-file.c), over a table
// of tricky files (the boot test holds systemd itself to the same table), and read safely.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CliError } from '../../src/errors.js'
import {
  loadSettings,
  maxSettingsFileBytes,
  readEnvironmentFile,
  readSettingsFile,
  withSettingsFile,
} from '../../src/settings/settings-file.js'
import { parseEnvironmentFile } from '../../src/systemd/env-file-syntax.js'
import { trickyFiles } from '../support/environment-files.js'

const dir = mkdtempSync(join(tmpdir(), 'iid-envfile-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('the settings file, read as systemd reads it', () => {
  it.each(trickyFiles.map((f) => [f.name, f] as const))('%s', (name, f) => {
    const parsed = parseEnvironmentFile(f.bytes)
    const path = join(dir, name)
    writeFileSync(path, f.bytes)
    if ('unusable' in f.expected) {
      expect(parsed.unusable && `line ${parsed.unusable.line}: ${parsed.unusable.reason}`).toMatch(f.expected.unusable)
      expect(() => readEnvironmentFile(path)).toThrow(new RegExp(`^${path}:${parsed.unusable!.line}: `))
    } else {
      expect(parsed.unusable).toBeUndefined()
      expect(Object.fromEntries(parsed.entries.map((e) => [e.name, e.value]))).toEqual(f.expected)
      expect(readEnvironmentFile(path)).toEqual(f.expected)
    }
  })

  it('numbers each entry by the line it was set on, and names the lines systemd skips', () => {
    const parsed = parseEnvironmentFile('# c\n\nIID_T_A="one\ntwo"\nexport IID_T_B=x\r\nIID_T_C\nIID_T_A=again\n')
    expect(parsed.entries).toEqual([{ name: 'IID_T_A', value: 'again', line: 7 }])
    expect(parsed.ignored).toEqual([
      { line: 5, text: 'export IID_T_B', reason: 'it is not a variable name' },
      { line: 6, text: 'IID_T_C', reason: "it has no '='" },
    ])
  })
})

describe('reading the settings file never hangs and never reads without bound', () => {
  const refused = (path: string): CliError => {
    try {
      readSettingsFile(path)
    } catch (error) {
      if (error instanceof CliError) return error
      throw error
    }
    throw new Error('not refused')
  }

  it('a FIFO, a device or a directory: refused at once, naming the file (78)', () => {
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    const zero = join(dir, 'zero')
    symlinkSync('/dev/zero', zero)
    for (const path of [fifo, zero, dir]) {
      const error = refused(path)
      expect(error.exitCode).toBe(78)
      expect(error.message).toBe(`the settings file ${path} is not a regular file`)
    }
  })

  it(`a file over ${maxSettingsFileBytes / 1024} KiB is refused; a missing one is no settings`, () => {
    const big = join(dir, 'big')
    writeFileSync(big, `IID_T_A=${'x'.repeat(maxSettingsFileBytes)}\n`)
    expect(refused(big).message).toBe(`the settings file ${big} is larger than 64 KiB`)
    expect(readSettingsFile(join(dir, 'missing'))).toEqual({ path: join(dir, 'missing'), entries: [], ignored: [] })
  })
})

describe('one precedence rule for every mode', () => {
  it('the process environment (even empty) wins over the file; the file is named with the line', () => {
    const path = join(dir, 'settings')
    writeFileSync(
      path,
      '# settings\nIID_DOCKER_AUTH_REGISTRIES=file.example.com\r\nIID_DOCKER_AUTH_USERNAME=svc\r\nIID_DOCKER_AUTH_TIMEOUT=5\n',
    )
    const { env, origin } = loadSettings({
      IID_DOCKER_AUTH_ENV_FILE: path,
      IID_DOCKER_AUTH_REGISTRIES: 'env.example.com',
      IID_DOCKER_AUTH_TIMEOUT: '',
    })
    expect(env['IID_DOCKER_AUTH_REGISTRIES']).toBe('env.example.com')
    expect(env['IID_DOCKER_AUTH_USERNAME']).toBe('svc')
    expect(env['IID_DOCKER_AUTH_TIMEOUT']).toBe('')
    expect(origin('IID_DOCKER_AUTH_REGISTRIES')).toBe('IID_DOCKER_AUTH_REGISTRIES')
    expect(origin('IID_DOCKER_AUTH_USERNAME')).toBe(`${path}:3`)
    expect(withSettingsFile({}, { path, entries: [], ignored: [] }).origin('X')).toBe('X')
  })
})
