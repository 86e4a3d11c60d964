// The package route's pieces in the CLI: the packaged unit, its ExecCondition, and how install,
// uninstall and check behave where the package owns the unit.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ownerLine, unitLines } from '../../src/commands/check-unit.js'
import { renderPackageUnit } from '../../src/systemd/package-unit.js'
import { renderUnit, unitTemplate } from '../../src/systemd/unit.js'
import { runCli } from '../support/helpers.js'

const template = unitTemplate()
let dir: string | undefined
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

describe('the packaged unit', () => {
  const unit = renderPackageUnit(template)
  it('runs the executable, after a condition that skips it until a registry is set', () => {
    expect(unit.split('\n')[0]).toMatch(/^# Installed by the iid-docker-auth package\. Runs once per boot/)
    const exec = unit.split('\n').filter((l) => l.startsWith('Exec'))
    expect(exec).toEqual([
      'ExecCondition=/usr/bin/iid-docker-auth unit-condition',
      'ExecStartPre=-+/usr/bin/iid-docker-auth prepare-dirs',
      'ExecStart=/usr/bin/iid-docker-auth write',
    ])
  })
  it('has the sandbox install renders, line for line', () => {
    const installed = renderUnit(template, {
      node: '/usr/bin/node',
      cli: '/usr/lib/node_modules/iid-docker-auth/bin/iid-docker-auth.cjs',
      configFiles: [{ path: '/root/.docker/config.json', directory: '/root/.docker' }],
    })
    const rest = (text: string) => text.split('\n').filter((l) => !l.startsWith('#') && !l.startsWith('Exec'))
    expect(rest(unit)).toEqual(rest(installed))
  })
})

describe('unit-condition', () => {
  const run = (settings: string | undefined, env: Record<string, string> = {}) => {
    dir = mkdtempSync(join(tmpdir(), 'iid-condition-'))
    const file = join(dir, 'settings')
    if (settings !== undefined) writeFileSync(file, settings)
    return runCli(['unit-condition'], { env: { IID_DOCKER_AUTH_ENV_FILE: file, IID_DOCKER_AUTH_REGISTRIES: undefined, ...env } })
  }
  it('exits 78 with what to set and where when no registry is set', async () => {
    const result = await run('# IID_DOCKER_AUTH_REGISTRIES=registry.example.com\nIID_DOCKER_AUTH_CONFIG=/root/.docker/config.json\n')
    expect(result.code).toBe(78)
    expect(result.stderr).toMatch(
      /^iid-docker-auth: not configured yet, so iid-docker-auth\.service is skipped: set IID_DOCKER_AUTH_REGISTRIES=/,
    )
    expect(result.stderr).toContain(`in ${dir}/settings, then systemctl start iid-docker-auth.service`)
  })
  it('exits 0 when a registry is set, and when the file is unusable (write then reports it)', async () => {
    expect((await run('IID_DOCKER_AUTH_REGISTRIES=registry.example.com\n')).code).toBe(0)
    expect((await run(undefined, { IID_DOCKER_AUTH_REGISTRIES: 'registry.example.com' })).code).toBe(0)
    expect((await run('IID_DOCKER_AUTH_REGISTRIES="unterminated\n')).code).toBe(0)
  })
})

describe('check on the unit', () => {
  it('names the package or install as the one in charge', () => {
    const packaged = '/usr/lib/systemd/system/iid-docker-auth.service'
    expect(ownerLine(packaged, packaged)?.message).toMatch(/comes from the iid-docker-auth package/)
    expect(ownerLine('/etc/systemd/system/iid-docker-auth.service', packaged)).toMatchObject({ verdict: 'warn' })
    expect(ownerLine('/etc/systemd/system/iid-docker-auth.service', undefined)?.message).toMatch(/installed by iid-docker-auth install/)
    expect(ownerLine('', undefined)).toBeUndefined()
  })
  it('a unit skipped by its condition is a warning with the setting to make', () => {
    const lines = unitLines({ LoadState: 'loaded', UnitFileState: 'enabled', ActiveState: 'inactive', Result: 'exec-condition' })
    expect(lines[1]).toEqual({
      area: 'unit',
      verdict: 'warn',
      message: 'iid-docker-auth.service was skipped this boot: no registry is set',
      fix: 'set IID_DOCKER_AUTH_REGISTRIES=<host[:port]> in /etc/default/iid-docker-auth, then systemctl start iid-docker-auth.service',
      exitCode: undefined,
    })
  })
})

describe('install and uninstall where the package owns the unit', () => {
  const packagedRoot = (): string => {
    dir = mkdtempSync(join(tmpdir(), 'iid-packaged-'))
    mkdirSync(join(dir, 'usr/lib/systemd/system'), { recursive: true })
    mkdirSync(join(dir, 'etc/default'), { recursive: true })
    writeFileSync(join(dir, 'usr/lib/systemd/system/iid-docker-auth.service'), renderPackageUnit(template))
    writeFileSync(join(dir, 'etc/default/iid-docker-auth'), 'IID_DOCKER_AUTH_REGISTRIES=registry.example.com\n')
    return dir
  }
  it('install refuses with exit 64, the reason and the fix', async () => {
    const root = packagedRoot()
    const result = await runCli(['install', '--root', root, '--registry', 'pierone.example.com'])
    expect(result.code).toBe(64)
    // Its last two lines (a node under /tmp, as CI's other majors are, adds a warning before them).
    expect(result.stderr.split('\n').slice(-3).join('\n')).toBe(
      `iid-docker-auth: error: the iid-docker-auth package (deb or rpm) installed iid-docker-auth.service in ${root}/usr/lib/systemd/system/` +
        'iid-docker-auth.service; nothing was changed\n' +
        'iid-docker-auth: fix: set the registries in /etc/default/iid-docker-auth instead ' +
        '(it runs at the next boot, or now: systemctl restart iid-docker-auth.service)\n',
    )
  })
  it("uninstall keeps the package's settings file, even with --force", async () => {
    const root = packagedRoot()
    const result = await runCli(['uninstall', '--root', root, '--force', '--json'])
    expect(result.code, result.stderr).toBe(0)
    expect(JSON.parse(result.stdout).steps).toEqual([
      {
        action: 'keep',
        path: `${root}/etc/default/iid-docker-auth`,
        reason: "the package's settings file (purging the package removes it)",
      },
    ])
  })
})
