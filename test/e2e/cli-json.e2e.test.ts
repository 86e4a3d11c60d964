// --json on every outcome: each command prints exactly one object on stdout, in its schema, whether
// it ran, failed, was misused or could not even parse its flags.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { main } from '../../src/cli/program.js'
import { runCli, useTempDir, validJson } from '../support/helpers.js'

let dir: string
useTempDir('iid-json-', (d) => {
  dir = d
  mkdirSync(join(d, 'root', 'etc'), { recursive: true })
  writeFileSync(join(d, 'root', 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n')
})

type Schema = 'write' | 'check' | 'install' | 'remove'
const closed = 'http://127.0.0.1:9'

async function expectOneObject(args: string[], schema: Schema, code: number, env: Record<string, string> = {}) {
  const run = await runCli(args, { env })
  expect(run.code, run.stderr).toBe(code)
  const report = validJson(run.stdout, schema)
  expect(report.exitCode).toBe(code)
  expect(report.ok).toBe(code === 0)
  return report
}

describe('--json on a usage error', () => {
  it.each<[string, string[], Schema]>([
    ['write', ['-r', 'bad host'], 'write'],
    ['write (mistyped command)', ['instal', '-r', 'r.example.com'], 'write'],
    ['check', ['check', '-r', 'bad host'], 'check'],
    ['remove', ['remove', '-r', ','], 'remove'],
    ['install', ['install', '--root', 'ROOT', '-r', 'reg.example.com/team/app'], 'install'],
    ['uninstall', ['uninstall', '--root', 'ROOT', '--unit-dir', 'relative'], 'install'],
  ])('%s', async (_, args, schema) => {
    const report = await expectOneObject([...args.map((a) => (a === 'ROOT' ? join(dir, 'root') : a)), '--json'], schema, 64)
    expect(report.error.exitCode).toBe(64)
    expect(report.error.message).toBeTruthy()
  })

  it('also when IID_DOCKER_AUTH_JSON=true asks for it', async () => {
    await expectOneObject(['-r', 'bad host'], 'write', 64, { IID_DOCKER_AUTH_JSON: 'true' })
  })
})

describe('--json on a parse error', () => {
  it.each<[string[], Schema]>([
    [[], 'write'],
    [['write'], 'write'],
    [['check'], 'check'],
    [['remove'], 'remove'],
    [['install'], 'install'],
    [['uninstall'], 'install'],
  ])('%j --bogus', async (command, schema) => {
    const report = await expectOneObject([...command, '--bogus', '--json'], schema, 64)
    expect(report.error.message).toBe("unknown option '--bogus'")
  })
})

describe('--json on a normal failure', () => {
  it('write and remove: a config file that is a directory (78)', async () => {
    mkdirSync(join(dir, 'config.json'))
    for (const [args, schema] of [
      [['-r', 'r.example.com', '--endpoint', closed, '--timeout', '1'], 'write'],
      [['remove', '-r', 'r.example.com'], 'remove'],
    ] as const) {
      const report = await expectOneObject([...args, '-c', join(dir, 'config.json'), '--json'], schema, 78)
      expect(report.error.exitCode).toBe(78)
    }
  })

  it('check: IMDS unreachable (69)', async () => {
    await expectOneObject(
      ['check', '-r', 'r.example.com', '-c', join(dir, 'config.json'), '--endpoint', closed, '--timeout', '1', '--json'],
      'check',
      69,
    )
  })

  it('install, also with --dry-run: an edited environment file is kept (73)', async () => {
    const root = join(dir, 'root')
    mkdirSync(join(root, 'etc', 'default'))
    writeFileSync(join(root, 'etc', 'default', 'iid-docker-auth'), 'IID_DOCKER_AUTH_REGISTRIES=edited.example.com\n')
    for (const extra of [[], ['--dry-run']]) {
      const report = await expectOneObject(
        ['install', '--root', root, '-r', 'r.example.com', '--no-enable', '--json', ...extra],
        'install',
        73,
      )
      expect(report.dryRun).toBe(extra.length > 0)
      expect(report.error.message).toMatch(/edited by hand/)
    }
  })
})

describe('--json on a bug', () => {
  it('prints the object with exit 1 when something unexpected is thrown', async () => {
    let stdout = ''
    const env = new Proxy({ IID_DOCKER_AUTH_ENDPOINT: closed } as Record<string, string>, {
      get: (target, name) => {
        if (name === 'IID_DOCKER_AUTH_USERNAME') throw new Error('simulated bug')
        return Reflect.get(target, name)
      },
    })
    const code = await main(['node', 'iid-docker-auth', '-r', 'r.example.com', '--json'], {
      stdout: (t) => (stdout += t),
      stderr: () => {},
      env,
      cwd: dir,
      journal: false,
    })
    expect(code).toBe(1)
    const report = validJson(stdout, 'write')
    expect(report.error.message).toMatch(/unexpected error \(a bug\): simulated bug/)
  })
})
