import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Layout } from '../../src/systemd/layout.js'
import { planInstall, planUninstall } from '../../src/systemd/plan.js'
import { isOurUnit, renderUnit, systemdQuote, unitTemplate } from '../../src/systemd/unit.js'
import { readEnvironmentFile } from '../../src/settings/settings-file.js'
import { isUneditedEnvironmentFile, renderEnvironmentFile } from '../../src/systemd/environment-file.js'
import { hasCommand } from '../support/helpers.js'

const template = unitTemplate()
const file = (path: string, directory = path.slice(0, path.lastIndexOf('/')) || '/') => ({ path, directory })
const paths = {
  node: '/usr/bin/node',
  cli: '/usr/lib/node_modules/iid-docker-auth/bin/iid-docker-auth.cjs',
  configFiles: [file('/root/.docker/config.json')],
}
const machine: Layout = { root: undefined, unitDir: '/etc/systemd/system' }
const image: Layout = { root: '/mnt/image', unitDir: '/etc/systemd/system' }
const settings = [['IID_DOCKER_AUTH_REGISTRIES', 'pierone.example.com']] as const

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

describe('planInstall', () => {
  const request = (layout: Layout, extra: Partial<Parameters<typeof planInstall>[0]> = {}) => ({
    layout,
    paths,
    settings,
    enable: true,
    now: false,
    force: false,
    ...extra,
  })

  it('on this machine: unit and environment 0644 (settings only, read by the helper), daemon-reload, enable, --now starts', () => {
    const steps = planInstall(request(machine, { now: true }), { unit: undefined, environment: undefined }, template)
    expect(
      steps.map((s) =>
        s.kind === 'systemctl' ? `systemctl ${s.args.join(' ')}` : s.kind === 'write' ? `write ${s.path} ${s.mode.toString(8)}` : s.kind,
      ),
    ).toEqual([
      'write /etc/systemd/system/iid-docker-auth.service 644',
      'write /etc/default/iid-docker-auth 644',
      'systemctl daemon-reload',
      'systemctl enable iid-docker-auth.service',
      'systemctl start iid-docker-auth.service',
    ])
  })

  it('renders the unit for the settings it writes, and waits for --now longer than the unit may take to start', () => {
    const steps = planInstall(
      request(machine, {
        now: true,
        settings: [...settings, ['IID_DOCKER_AUTH_TIMEOUT', '600'], ['IID_DOCKER_AUTH_ENDPOINT', 'http://10.0.0.5/']],
      }),
      { unit: undefined, environment: undefined },
      template,
    )
    const unit = steps[0]!.kind === 'write' ? steps[0]!.content : ''
    expect(unit).toMatch(/^TimeoutStartSec=660$/m)
    expect(unit).toMatch(/^IPAddressAllow=169\.254\.169\.254 fd00:ec2::254 10\.0\.0\.5$/m)
    const start = steps.find((s) => s.kind === 'systemctl' && s.args[0] === 'start')
    expect(start).toMatchObject({ kind: 'systemctl', args: ['start', 'iid-docker-auth.service'] })
    expect(start!.kind === 'systemctl' && start!.timeoutSeconds).toBeGreaterThan(660)
    // Other systemctl calls keep the default wait.
    expect(
      steps
        .filter((s) => s.kind === 'systemctl' && s.args[0] !== 'start')
        .every((s) => s.kind === 'systemctl' && s.timeoutSeconds === undefined),
    ).toBe(true)
  })

  it("in an image root: paths under the root, systemctl enable's links made by the tool, no systemctl; --no-enable skips them", () => {
    const steps = planInstall(request(image), { unit: undefined, environment: undefined }, template)
    expect(steps.map((s) => (s.kind === 'systemctl' ? s.args.join(' ') : 'path' in s ? `${s.kind} ${s.path}` : ''))).toEqual([
      'write /mnt/image/etc/systemd/system/iid-docker-auth.service',
      'write /mnt/image/etc/default/iid-docker-auth',
      ...['multi-user.target', 'docker.service', 'containerd.service', 'kubelet.service'].map(
        (target) => `link /mnt/image/etc/systemd/system/${target}.wants/iid-docker-auth.service`,
      ),
    ])
    const noEnable = planInstall(request(image, { enable: false }), { unit: undefined, environment: undefined }, template)
    expect(noEnable.some((s) => s.kind === 'systemctl' || s.kind === 'link')).toBe(false)
  })

  it('is idempotent: files already current are not rewritten', () => {
    const first = planInstall(request(machine), { unit: undefined, environment: undefined }, template)
    const [unit, env] = first.map((s) => (s.kind === 'write' ? s.content : undefined))
    const again = planInstall(request(machine), { unit, environment: env }, template)
    expect(again.slice(0, 2).map((s) => s.kind)).toEqual(['unchanged', 'unchanged'])
  })

  it('replaces an untouched environment file with new settings, but refuses an edited one without --force', () => {
    const old = renderEnvironmentFile([['IID_DOCKER_AUTH_REGISTRIES', 'old.example.com']])
    expect(planInstall(request(machine), { unit: undefined, environment: old }, template)[1]!.kind).toBe('write')
    const edited = `${old}IID_DOCKER_AUTH_TIMEOUT=5\n`
    expect(() => planInstall(request(machine), { unit: undefined, environment: edited }, template)).toThrow(/edited by hand/)
    expect(planInstall(request(machine, { force: true }), { unit: undefined, environment: edited }, template)[1]!.kind).toBe('write')
  })

  it('refuses to replace a unit it did not write, without --force', () => {
    const foreign = '[Service]\nExecStart=/bin/true\n'
    expect(() => planInstall(request(machine), { unit: foreign, environment: undefined }, template)).toThrow(
      /not written by iid-docker-auth/,
    )
    expect(planInstall(request(machine, { force: true }), { unit: foreign, environment: undefined }, template)[0]!.kind).toBe('write')
  })
})

describe('planUninstall', () => {
  const ourUnit = renderUnit(template, paths)
  const ourEnv = renderEnvironmentFile(settings)

  it('disables and removes exactly what install created', () => {
    expect(planUninstall(machine, { unit: ourUnit, environment: ourEnv }, false)).toEqual([
      { kind: 'systemctl', args: ['stop', 'iid-docker-auth.service'] },
      { kind: 'systemctl', args: ['disable', 'iid-docker-auth.service'] },
      { kind: 'remove', path: '/etc/systemd/system/iid-docker-auth.service' },
      { kind: 'remove', path: '/etc/default/iid-docker-auth' },
      { kind: 'systemctl', args: ['daemon-reload'] },
    ])
  })

  it('stops the unit only on a live system, not in an image root', () => {
    expect(
      planUninstall(
        image,
        { unit: ourUnit, environment: ourEnv, links: ['/mnt/image/etc/systemd/system/x.wants/iid-docker-auth.service'] },
        false,
      ).map((s) => (s.kind === 'systemctl' ? s.args.join(' ') : s.kind)),
    ).toEqual(['unlink', 'remove', 'remove'])
  })

  it('keeps an edited environment file and a foreign unit unless --force', () => {
    const steps = planUninstall(image, { unit: '[Unit]\n', environment: `${ourEnv}X=1\n` }, false)
    expect(steps.map((s) => s.kind)).toEqual(['keep', 'keep'])
    expect(planUninstall(image, { unit: '[Unit]\n', environment: `${ourEnv}X=1\n` }, true).map((s) => s.kind)).toEqual(['remove', 'remove'])
  })

  it('has nothing to do when nothing is installed', () => {
    expect(planUninstall(machine, { unit: undefined, environment: undefined }, false)).toEqual([])
  })
})
