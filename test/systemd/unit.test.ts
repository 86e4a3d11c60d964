import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isOurUnit, renderUnit, systemdQuote, unitTemplate } from '../../src/systemd/unit.js'
import { hasCommand } from '../support/helpers.js'
import { file, paths } from '../support/unit-paths.js'

const template = unitTemplate()

describe('renderUnit', () => {
  it('points ExecStart and ExecStartPre at the running node and CLI, and makes each config directory writable', () => {
    const unit = renderUnit(template, {
      ...paths,
      configFiles: [file('/root/.docker/config.json'), file('/var/lib/kubelet/config.json'), file('/root/.docker/other.json')],
    })
    expect(unit.split('\n').filter((l) => l.startsWith('ExecStart='))).toEqual([`ExecStart=/usr/bin/node ${paths.cli} write`])
    expect(unit.split('\n').filter((l) => l.startsWith('ExecStartPre='))).toEqual([
      `ExecStartPre=-+/usr/bin/node ${paths.cli} prepare-dirs`,
    ])
    expect(unit.split('\n').filter((l) => l.startsWith('ReadWritePaths='))).toEqual([
      'ReadWritePaths=-/root/.docker',
      'ReadWritePaths=-/var/lib/kubelet',
    ])
    expect(unit).not.toMatch(/install -d|chmod|chown/)
    expect(isOurUnit(unit)).toBe(true)
    // Everything else is the shipped unit, line for line.
    const rest = (text: string) => text.split('\n').filter((l) => !/^(ExecStart|ExecStartPre|ReadWritePaths)=/.test(l))
    expect(rest(unit)).toEqual(rest(template))
  })

  it('makes the directory of a symlinked config writable, the one the file is really written in', () => {
    const unit = renderUnit(template, { ...paths, configFiles: [file('/root/.docker/config.json', '/srv/shared/docker')] })
    expect(unit.split('\n').filter((l) => l.startsWith('ReadWritePaths='))).toEqual(['ReadWritePaths=-/srv/shared/docker'])
  })

  it.each([
    '/config.json',
    '/etc/config.json',
    '/tmp/c.json',
    '/tmp/x/config.json',
    '/var/lib/config.json',
    '/home/config.json',
    '/usr/local/config.json',
    '/proc/self/x',
    '/etc/sudoers.d/config.json',
    '/usr/lib/systemd/system/config.json',
    '/home/ec2-user/config.json',
    '/run/systemd/system/config.json',
    '/var/spool/cron/crontabs/config.json',
    '/var/lib/docker/config.json',
    '/boot/efi/config.json',
  ])('refuses a config file directly in a system directory: %s', (path) => {
    expect(() => renderUnit(template, { ...paths, configFiles: [file(path)] })).toThrow(
      /system directory|home directory|temporary directory/,
    )
    expect(() =>
      renderUnit(template, { ...paths, configFiles: [file('/root/.docker/config.json', path.slice(0, path.lastIndexOf('/')) || '/')] }),
    ).toThrow(/--config \/root\/\.docker\/config\.json/)
  })

  it('accepts the config directories people use', () => {
    for (const path of [
      '/root/.docker/config.json',
      '/var/lib/kubelet/config.json',
      '/home/ec2-user/.docker/config.json',
      '/opt/ci/docker/config.json',
      '/srv/builds/.docker/config.json',
    ]) {
      expect(() => renderUnit(template, { ...paths, configFiles: [file(path)] })).not.toThrow()
    }
  })

  it('quotes paths with spaces and escapes % specifiers', () => {
    const unit = renderUnit(template, { ...paths, cli: '/opt/my tools/100%/cli.mjs' })
    expect(unit).toContain('ExecStart=/usr/bin/node "/opt/my tools/100%%/cli.mjs" write')
    expect(systemdQuote('a"b\\c', false)).toBe('"a\\"b\\\\c"')
  })

  it('writes `$` in the CLI path as `$$`, which systemd would expand ($HOME, ${HOME}); never in the executable path', () => {
    const unit = renderUnit(template, { ...paths, node: '/opt/odd$HOME%h dir/node', cli: '/opt/odd$HOME%h dir/${HOME}/cli.cjs' })
    expect(unit).toContain('ExecStart="/opt/odd$HOME%%h dir/node" "/opt/odd$$HOME%%h dir/$${HOME}/cli.cjs" write')
    expect(unit).toContain('ExecStartPre=-+"/opt/odd$HOME%%h dir/node" "/opt/odd$$HOME%%h dir/$${HOME}/cli.cjs" prepare-dirs')
  })

  // systemd's own parser: verify finds the node binary only if the unit names its path exactly.
  // The CLI argument's `$$` is proven where systemd runs it: test/boot.e2e.test.ts.
  it.runIf(hasCommand('systemd-analyze'))('systemd-analyze verify finds the node binary at a path with `$`, `%` and a space', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iid-verify-'))
    try {
      const odd = join(dir, 'odd$HOME%h dir')
      mkdirSync(odd)
      copyFileSync(process.execPath, join(odd, 'node'))
      writeFileSync(
        join(dir, 'iid-docker-auth.service'),
        renderUnit(template, { ...paths, node: join(odd, 'node'), cli: join(odd, 'cli.cjs') }),
      )
      const run = (): string => {
        try {
          return execFileSync('systemd-analyze', ['verify', '--man=no', 'iid-docker-auth.service'], {
            cwd: dir,
            stdio: ['ignore', 'pipe', 'pipe'],
          }).toString()
        } catch (error) {
          return String((error as { stderr?: Buffer }).stderr ?? error)
        }
      }
      expect(run()).not.toMatch(/not executable|Failed to|Invalid|bad-setting/i)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  const line = (unit: string, key: string) => unit.split('\n').filter((l) => l.startsWith(`${key}=`))

  it("keeps the unit's start limit above the tool's deadline, never below the shipped one", () => {
    expect(line(renderUnit(template, paths), 'TimeoutStartSec')).toEqual(['TimeoutStartSec=180'])
    expect(line(renderUnit(template, paths, { deadlineSeconds: 10 }), 'TimeoutStartSec')).toEqual(['TimeoutStartSec=180'])
    expect(line(renderUnit(template, paths, { deadlineSeconds: 600 }), 'TimeoutStartSec')).toEqual(['TimeoutStartSec=660'])
    expect(line(renderUnit(template, paths, { deadlineSeconds: 130.5 }), 'TimeoutStartSec')).toEqual(['TimeoutStartSec=191'])
  })

  it("lets the sandbox reach an --endpoint's address, and refuses a host name", () => {
    expect(line(renderUnit(template, paths), 'IPAddressAllow')).toEqual(['IPAddressAllow=169.254.169.254 fd00:ec2::254'])
    expect(line(renderUnit(template, paths, { endpoint: 'http://169.254.169.254/' }), 'IPAddressAllow')).toEqual([
      'IPAddressAllow=169.254.169.254 fd00:ec2::254',
    ])
    expect(line(renderUnit(template, paths, { endpoint: 'http://127.0.0.1:18000/' }), 'IPAddressAllow')).toEqual([
      'IPAddressAllow=169.254.169.254 fd00:ec2::254 127.0.0.1',
    ])
    expect(line(renderUnit(template, paths, { endpoint: 'http://[::1]:18000/base/' }), 'IPAddressAllow')).toEqual([
      'IPAddressAllow=169.254.169.254 fd00:ec2::254 ::1',
    ])
    expect(line(renderUnit(template, paths, { endpoint: 'http://[fd00:ec2::254]/' }), 'IPAddressAllow')).toEqual([
      'IPAddressAllow=169.254.169.254 fd00:ec2::254',
    ])
    expect(() => renderUnit(template, paths, { endpoint: 'http://imds.internal:8080/' })).toThrow(
      /--endpoint http:\/\/imds\.internal:8080\/ names a host, not an address/,
    )
  })

  it.each([
    [{ ...paths, node: 'node' }, /node binary "node" must be an absolute path/],
    [{ ...paths, cli: '/x\ny' }, /CLI script/],
    [{ ...paths, configFiles: [file('relative/config.json')] }, /config file/],
  ])('refuses %j', (p, message) => {
    expect(() => renderUnit(template, p)).toThrow(message)
  })
})
