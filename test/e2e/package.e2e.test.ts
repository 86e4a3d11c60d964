// The package as npm ships it: packed from a copy of the sources without dist/, installed into an
// empty prefix (offline: it has no runtime dependencies), and its bin run against the simulator.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { repoRoot, runProgram, useSimulator } from '../support/helpers.js'

const sim = useSimulator()
let dir: string | undefined
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

it('npm pack builds dist/ itself; the installed bin writes the entry and installs the unit', async () => {
  dir = mkdtempSync(join(tmpdir(), 'iid-pack-'))
  const source = join(dir, 'source')
  // The sources as a fresh clone has them: no dist/ (a stale one would be shipped as it is).
  cpSync(repoRoot, source, { recursive: true, filter: (path) => !/\/(node_modules|dist|\.git)$/.test(path) })
  symlinkSync(join(repoRoot, 'node_modules'), join(source, 'node_modules'))
  // npm's cache and notices stay in the temporary directory; nothing asks a registry.
  const env = {
    ...process.env,
    npm_config_cache: join(dir, 'npm-cache'),
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
  }
  const pack = await runProgram('npm', ['pack', '--silent', '--pack-destination', dir], { env, timeoutMs: 120_000, cwd: source })
  expect(pack.status, pack.stderr).toBe(0)
  const tarball = join(dir, readdirSync(dir).find((name) => name.endsWith('.tgz'))!)

  const prefix = join(dir, 'prefix')
  const npmInstall = await runProgram('npm', ['install', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, tarball], {
    env,
    timeoutMs: 120_000,
  })
  expect(npmInstall.status, npmInstall.stderr).toBe(0)

  const config = join(dir, 'config.json')
  const run = await runProgram(
    join(prefix, 'node_modules', '.bin', 'iid-docker-auth'),
    ['--registry', 'pierone.example.com', '--config', config, '--endpoint', sim.url, '--timeout', '5'],
    { env },
  )
  expect(run.stderr).toBe(`iid-docker-auth: wrote pierone.example.com to ${config}\n`)
  expect(run.status).toBe(0)
  expect(Object.keys(JSON.parse(readFileSync(config, 'utf8')).auths)).toEqual(['pierone.example.com'])

  // install --root from the packed package; and execa, a file of its own (dist/execa.cjs), which
  // systemctl runs through, loads from it.
  const root = join(dir, 'root')
  mkdirSync(root)
  const install = await runProgram(
    join(prefix, 'node_modules', '.bin', 'iid-docker-auth'),
    ['install', '--root', root, '--registry', 'pierone.example.com'],
    { env },
  )
  expect(install.status, install.stderr).toBe(0)
  expect(readlinkSync(join(root, 'etc', 'systemd', 'system', 'multi-user.target.wants', 'iid-docker-auth.service'))).toMatch(
    /iid-docker-auth\.service$/,
  )
  const execa = await runProgram(process.execPath, [
    '-e',
    `require(${JSON.stringify(join(prefix, 'node_modules', 'iid-docker-auth', 'dist', 'execa.cjs'))})`,
  ])
  expect(execa.status, execa.stderr).toBe(0)
}, 240_000)
