// What install and uninstall of the unit plan to do (src/systemd/plan.ts).
import { describe, expect, it } from 'vitest'
import type { Layout } from '../../src/systemd/layout.js'
import { planInstall, planUninstall } from '../../src/systemd/plan.js'
import { renderUnit, unitTemplate } from '../../src/systemd/unit.js'
import { renderEnvironmentFile } from '../../src/systemd/environment-file.js'
import { paths } from '../support/unit-paths.js'

const template = unitTemplate()
const machine: Layout = { root: undefined, unitDir: '/etc/systemd/system' }
const image: Layout = { root: '/mnt/image', unitDir: '/etc/systemd/system' }
const settings = [['IID_DOCKER_AUTH_REGISTRIES', 'pierone.example.com']] as const

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
