// The .deb on a Debian tree with no Node.js: dpkg -i inside the tree (chroot: the tree's own dpkg
// database, never this machine's), then real boots under systemd-nspawn. Unconfigured, the unit is
// skipped with a line saying what to set; configured, it writes before the docker stand-in starts,
// and a docker-group user pulls a manifest through the package's docker-credential-iid. IMDS (the
// in-process simulator), the registry and its token service are reached from inside the boot's
// network namespace through relays; nothing leaves this machine's loopback. Then dpkg's upgrade,
// remove and purge. Root only; under CI=true it runs or fails.
import { execFileSync, spawnSync } from 'node:child_process'
import {
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildAuth } from '../../src/imds/identity.js'
import {
  bootContainer,
  dockerStandIn,
  ensureDebianTree,
  imdsNamespace,
  journal,
  overlayRoot,
  relayInto,
  unitFile,
} from '../support/boot.js'
import { haveOrCi, useSimulator, validJson } from '../support/helpers.js'
import { canPackage, ensurePackages, version } from '../support/packages.js'
import { type Registry, seedImage, startRegistry } from '../support/registry.js'

const canBoot = canPackage && haveOrCi('systemd-nspawn', 'debootstrap', 'ip', 'dpkg-deb', 'docker-registry', 'skopeo', 'docker', 'openssl')
const chroot = (root: string, ...args: string[]) =>
  spawnSync('chroot', [root, ...args], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } })
const inTree = (root: string, ...args: string[]): string => {
  const run = chroot(root, ...args)
  if (run.status !== 0) throw new Error(`${args.join(' ')} in the tree exited ${run.status}: ${run.stderr}`)
  return run.stdout
}
const settingsFile = (root: string) => join(root, 'etc/default/iid-docker-auth')
/** What an admin does after installing: set the registries in the settings file. */
const configure = (root: string, registries: string) =>
  writeFileSync(
    settingsFile(root),
    readFileSync(settingsFile(root), 'utf8').replace(/^#IID_DOCKER_AUTH_REGISTRIES=.*$/m, `IID_DOCKER_AUTH_REGISTRIES=${registries}`),
  )
const wantsLinks = (root: string) =>
  ['multi-user.target', 'docker.service', 'containerd.service', 'kubelet.service'].filter(
    // lstat: the links point into the tree, not at a path on this machine.
    (t) => lstatSync(join(root, 'etc/systemd/system', `${t}.wants`, 'iid-docker-auth.service'), { throwIfNoEntry: false }) !== undefined,
  )

describe.runIf(canBoot)('the .deb, booted on a Debian with no Node.js', () => {
  const sim = useSimulator()
  let registry: Registry
  let deb: string
  let work: string
  let overlay: { root: string; unmount(): void }
  const image = () => `${registry.host}/team/app:latest`
  beforeAll(async () => {
    deb = ensurePackages().deb
    registry = await startRegistry({
      signingCertificates: [sim.certificates.pkcs7, sim.certificates.rsa2048],
      allowedAccounts: ['123456789012'],
    })
    await seedImage(registry, 'team/app')
    work = mkdtempSync(join(tmpdir(), 'iid-deb-boot-'))
    overlay = overlayRoot(ensureDebianTree(), work)
    const root = overlay.root
    copyFileSync(deb, join(root, 'tmp/iid-docker-auth.deb'))
    inTree(root, 'dpkg', '-i', '/tmp/iid-docker-auth.deb')
    mkdirSync(join(root, 'var/log/journal'), { recursive: true })
    // EC2's DMI facts where the fake sysfs is read (as in test/boot), for every service of the boot.
    const sysfs = join(work, 'sys/class/dmi/id')
    mkdirSync(sysfs, { recursive: true })
    for (const [name, value] of Object.entries({
      sys_vendor: 'Amazon EC2',
      product_name: 'm5.large',
      chassis_asset_tag: 'i-0123456789abcdef0',
    }))
      writeFileSync(join(sysfs, name), `${value}\n`)
    mkdirSync(join(root, 'etc/systemd/system.conf.d'), { recursive: true })
    writeFileSync(
      join(root, 'etc/systemd/system.conf.d/iid-test.conf'),
      '[Manager]\nDefaultEnvironment=IID_DOCKER_AUTH_SYSFS=/sys/firmware\n',
    )
    // A docker-group user whose config maps the registry to the helper, and no other credential.
    inTree(root, 'groupadd', '--system', 'docker')
    inTree(root, 'useradd', '--create-home', '--shell', '/bin/sh', '--user-group', '--groups', 'docker', 'ci')
    const ids = inTree(root, 'id', '-u', 'ci').trim()
    mkdirSync(join(root, 'home/ci/.docker'), { mode: 0o700 })
    writeFileSync(join(root, 'home/ci/.docker/config.json'), JSON.stringify({ credHelpers: { [registry.host]: 'iid' } }), { mode: 0o600 })
    for (const p of ['home/ci/.docker', 'home/ci/.docker/config.json']) chownSync(join(root, p), Number(ids), Number(ids))
    dockerStandIn(root)
    const record = [
      'for u in iid-docker-auth.service docker.service; do systemctl show $u -p ActiveState,Result,ExecMainExitTimestampMonotonic,ExecMainStartTimestampMonotonic > /results/show-$u; done',
      'systemctl --failed --plain --no-legend > /results/failed',
      'systemctl status iid-docker-auth.service --no-pager --lines=5 > /results/status',
      'if command -v node; then echo node-found; else echo no-node; fi > /results/node',
      'iid-docker-auth check --json > /results/check.json 2>/dev/null',
      `setpriv --reuid=ci --regid=ci --init-groups env HOME=/home/ci docker --config /home/ci/.docker manifest inspect --insecure ${image()} > /results/manifest 2> /results/manifest.err; echo $? > /results/manifest-code`,
      'systemctl poweroff --no-block',
    ]
    writeFileSync(
      join(root, 'usr/local/sbin/iid-test-finish'),
      `#!/bin/sh\nexport DOCKER_HOST=unix:///nonexistent.sock\n${record.join('\n')}\n`,
      { mode: 0o755 },
    )
    unitFile(
      root,
      'test-finish.service',
      `[Unit]
Description=records the outcome and powers off
After=docker.service iid-docker-auth.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/iid-test-finish
`,
    )
  }, 900_000)
  afterAll(async () => {
    overlay?.unmount()
    if (work !== undefined) rmSync(work, { recursive: true, force: true })
    await registry?.close()
  })

  async function boot(): Promise<{ files: Record<string, string>; journal: string }> {
    const root = overlay.root
    const results = mkdtempSync(join(work, 'results-'))
    const netns = imdsNamespace()
    const port = (url: string) => Number(new URL(url).port)
    try {
      const relays = await relayInto(netns.name, [
        { inside: { host: '169.254.169.254', port: 80 }, port: port(sim.url) },
        { inside: { host: '127.0.0.1', port: port(`http://${registry.host}`) }, port: port(`http://${registry.host}`) },
        { inside: { host: '127.0.0.1', port: port(registry.tokenUrl) }, port: port(registry.tokenUrl) },
      ])
      let console = ''
      try {
        console = await bootContainer(root, netns.name, [
          `--bind=${results}:/results`,
          `--bind-ro=${join(work, 'sys')}:/sys/firmware`,
          `--bind-ro=${execFileSync('sh', ['-c', 'command -v docker']).toString().trim()}:/usr/local/bin/docker`,
        ])
      } finally {
        await relays.close()
      }
      const files: Record<string, string> = {}
      for (const name of [
        'show-iid-docker-auth.service',
        'show-docker.service',
        'failed',
        'status',
        'node',
        'check.json',
        'docker-saw-entry',
        'manifest',
        'manifest.err',
        'manifest-code',
      ])
        files[name] = existsSync(join(results, name))
          ? readFileSync(join(results, name), 'utf8').trim()
          : `(missing; console: ${console.slice(-1500)})`
      return { files, journal: journal(root) + console }
    } finally {
      netns.remove()
    }
  }
  const fields = (text: string | undefined) =>
    Object.fromEntries((text ?? '').split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
  const secrets = () =>
    [...sim.pkcs7.split('\n'), ...sim.issuedTokens(), buildAuth('instance-identity-document', sim.pkcs7, false)].filter(
      (s) => s.length >= 16,
    )

  it('installed but unconfigured: the boot has no failed unit, and status and check say what to set where', async () => {
    expect(chroot(overlay.root, 'sh', '-c', 'command -v node').status).not.toBe(0)
    expect(wantsLinks(overlay.root)).toEqual(['multi-user.target', 'docker.service', 'containerd.service', 'kubelet.service'])
    const { files } = await boot()
    expect(files['node']).toBe('no-node')
    expect(files['failed']).toBe('')
    expect(fields(files['show-iid-docker-auth.service'])).toMatchObject({ ActiveState: 'inactive', Result: 'exec-condition' })
    expect(files['status']).toContain(
      'not configured yet, so iid-docker-auth.service is skipped: set IID_DOCKER_AUTH_REGISTRIES=<host[:port]> in /etc/default/iid-docker-auth',
    )
    const checks = validJson(files['check.json']!, 'check').checks
    expect(checks).toContainEqual({
      area: 'config',
      verdict: 'warn',
      message: 'no registry given, so no entry was checked',
      fix: 'set IID_DOCKER_AUTH_REGISTRIES=<host[:port]> in /etc/default/iid-docker-auth (or pass --registry <host[:port]>)',
      exitCode: null,
    })
    const unit = checks.filter((c: { area: string }) => c.area === 'unit')
    expect(unit.map((c: { verdict: string; message: string }) => `${c.verdict} ${c.message}`)).toEqual([
      'ok iid-docker-auth.service comes from the iid-docker-auth package; its settings are in /etc/default/iid-docker-auth',
      'ok iid-docker-auth.service is installed and enabled',
      'warn iid-docker-auth.service was skipped this boot: no registry is set',
    ])
    expect(files['docker-saw-entry']).toBe('absent')
  }, 300_000)

  it('configured: the unit writes before docker starts, and a docker user pulls through docker-credential-iid', async () => {
    configure(overlay.root, `pierone.example.com,${registry.host}`)
    const { files, journal: text } = await boot()
    expect(files['failed']).toBe('')
    const ours = fields(files['show-iid-docker-auth.service'])
    const docker = fields(files['show-docker.service'])
    expect(ours, text.slice(-3000)).toMatchObject({ ActiveState: 'active', Result: 'success' })
    expect(Number(ours['ExecMainExitTimestampMonotonic'])).toBeGreaterThan(0)
    expect(Number(ours['ExecMainExitTimestampMonotonic'])).toBeLessThanOrEqual(Number(docker['ExecMainStartTimestampMonotonic']))
    expect(files['docker-saw-entry']).toBe('present')
    expect(files['manifest-code'], files['manifest.err']).toBe('0')
    expect(JSON.parse(files['manifest']!)).toMatchObject({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json' })
    expect(registry.decisions.filter((d) => d.user === 'instance-identity-document' && d.granted).length).toBeGreaterThan(0)
    const unit = validJson(files['check.json']!, 'check').checks.filter((c: { area: string }) => c.area === 'unit')
    expect(unit.map((c: { verdict: string }) => c.verdict)).toEqual(['ok', 'ok', 'ok'])
    for (const secret of secrets()) expect(text.includes(secret), 'a secret reached the journal').toBe(false)
  }, 300_000)
})

describe.runIf(canPackage && haveOrCi('dpkg-deb', 'debootstrap'))('the .deb through upgrade, remove and purge', () => {
  let work: string | undefined
  let overlay: { root: string; unmount(): void } | undefined
  afterAll(() => {
    overlay?.unmount()
    if (work !== undefined) rmSync(work, { recursive: true, force: true })
  })

  it('keeps the settings and the enablement the admin chose, and never touches a config.json', () => {
    const { deb } = ensurePackages()
    work = mkdtempSync(join(tmpdir(), 'iid-deb-life-'))
    overlay = overlayRoot(ensureDebianTree(), work)
    const root = overlay.root
    // A newer version of the same package: repacked uncompressed, which is quick.
    const unpacked = join(work, 'newer')
    execFileSync('dpkg-deb', ['-R', deb, unpacked])
    const control = join(unpacked, 'DEBIAN/control')
    writeFileSync(control, readFileSync(control, 'utf8').replace(/^Version: .*$/m, `Version: ${version}+1`))
    execFileSync('dpkg-deb', ['--root-owner-group', '-Znone', '-b', unpacked, join(root, 'tmp/newer.deb')], { stdio: 'ignore' })
    copyFileSync(deb, join(root, 'tmp/current.deb'))
    const config = '{"auths":{"pierone.example.com":{"auth":"dTpw"}}}\n'
    mkdirSync(join(root, 'root/.docker'), { recursive: true, mode: 0o700 })
    writeFileSync(join(root, 'root/.docker/config.json'), config, { mode: 0o600 })

    inTree(root, 'dpkg', '-i', '/tmp/current.deb')
    expect(lstatSync(join(root, 'usr/bin/iid-docker-auth')).mode & 0o777).toBe(0o755)
    expect(readlinkSync(join(root, 'usr/bin/docker-credential-iid'))).toBe('iid-docker-auth')
    expect(readFileSync(join(root, 'usr/lib/systemd/system/iid-docker-auth.service'), 'utf8')).toContain(
      'ExecStart=/usr/bin/iid-docker-auth write',
    )
    // The settings file is made by postinst, not a conffile: dpkg never prompts for it.
    expect(inTree(root, 'dpkg-query', '--showformat=${Conffiles}', '-W', 'iid-docker-auth')).toBe('')
    expect(readFileSync(settingsFile(root), 'utf8')).toMatch(/IID_DOCKER_AUTH_REGISTRIES/)
    configure(root, 'pierone.example.com')
    const settings = readFileSync(settingsFile(root), 'utf8')

    // The same version again, then a newer one: settings kept, enablement as it was.
    inTree(root, 'dpkg', '-i', '/tmp/current.deb')
    expect(readFileSync(settingsFile(root), 'utf8')).toBe(settings)
    expect(wantsLinks(root)).toHaveLength(4)
    inTree(root, 'systemctl', 'disable', 'iid-docker-auth.service')
    inTree(root, 'dpkg', '-i', '/tmp/newer.deb')
    expect(inTree(root, 'dpkg-query', '--showformat=${Version}', '-W', 'iid-docker-auth')).toBe(`${version}+1`)
    expect(wantsLinks(root)).toEqual([])
    expect(readFileSync(settingsFile(root), 'utf8')).toBe(settings)
    inTree(root, 'systemctl', 'enable', 'iid-docker-auth.service')
    inTree(root, 'dpkg', '-i', '/tmp/newer.deb')
    expect(wantsLinks(root)).toHaveLength(4)

    // remove: the program goes; the settings, and every config.json entry, stay.
    inTree(root, 'dpkg', '-r', 'iid-docker-auth')
    expect(existsSync(join(root, 'usr/bin/iid-docker-auth'))).toBe(false)
    expect(existsSync(join(root, 'usr/lib/systemd/system/iid-docker-auth.service'))).toBe(false)
    expect(readFileSync(settingsFile(root), 'utf8')).toBe(settings)
    expect(readFileSync(join(root, 'root/.docker/config.json'), 'utf8')).toBe(config)
    // purge: the settings go too; config.json still as it was.
    inTree(root, 'dpkg', '-P', 'iid-docker-auth')
    expect(existsSync(settingsFile(root))).toBe(false)
    expect(wantsLinks(root)).toEqual([])
    expect(lstatSync(join(root, 'etc/systemd/system/iid-docker-auth.service'), { throwIfNoEntry: false })).toBeUndefined()
    expect(readFileSync(join(root, 'root/.docker/config.json'), 'utf8')).toBe(config)

    // From the npm route to the package: the settings `install` wrote are kept, with no prompt on a
    // stdin that is not a terminal (an image build).
    const written = 'IID_DOCKER_AUTH_REGISTRIES=ecr.example.com\n'
    writeFileSync(settingsFile(root), written)
    inTree(root, 'dpkg', '-i', '/tmp/current.deb')
    expect(readFileSync(settingsFile(root), 'utf8')).toBe(written)
  }, 900_000)
})
