// Proof in a real boot: a minimal Debian tree (debootstrap, cached outside the repo) booted by a
// real systemd under systemd-nspawn, with the unit installed by our own `install --root`, a
// stand-in docker.service that records what it sees, and the IMDS simulator listening on
// 169.254.169.254 inside a network namespace this test creates, so the unit uses its real default
// endpoint and no packet leaves the namespace; and `install --now` and `uninstall` run inside the
// booted system against its own systemd. Root only; under CI=true it runs or fails.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildAuth, defaultUsername } from '../../src/imds/identity.js'
import { parseEnvironmentFile } from '../../src/systemd/env-file-syntax.js'
import { hasCommand, repoRoot, rootOrCi, runCli, validJson } from '../support/helpers.js'
import { trickyFiles } from '../support/environment-files.js'
import { bootContainer, dockerStandIn, ensureDebianTree, imdsNamespace, overlayRoot, unitFile, waitForLine } from '../support/boot.js'

const boundRepo = '/opt/iid-docker-auth'
const boundNode = '/opt/node/bin/node'

interface BootResult {
  readonly files: Record<string, string>
  /** root's config.json in the booted tree after poweroff, if there is one. */
  readonly rootConfig: string | undefined
  readonly show: Record<string, Record<string, string>>
  readonly journal: string
  readonly unitJournal: string
  readonly unitErrors: string
  readonly unitInfo: string
  readonly secrets: string[]
  /** What `env -0` printed in a unit with each of envFiles as its EnvironmentFile= (and `empty`). */
  readonly envs: Record<string, Buffer>
}

/** Two docker users of the booted system: one with no ~/.docker yet, one whose 0600 config holds another entry. */
const dockerUsers = ['fresh', 'existing'] as const
const otherEntry = '{\n\t"auths": {\n\t\t"other.example.com": {\n\t\t\t"auth": "dTpw"\n\t\t}\n\t}\n}\n'

function addDockerUsers(root: string): string[] {
  for (const name of dockerUsers) execFileSync('useradd', ['--root', root, '--create-home', '--shell', '/bin/sh', '--user-group', name])
  const existing = join(root, 'home/existing/.docker')
  const ids = readFileSync(join(root, 'etc/passwd'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('existing:'))!
    .split(':')
  mkdirSync(existing, { mode: 0o700 })
  writeFileSync(join(existing, 'config.json'), otherEntry, { mode: 0o600 })
  for (const path of [existing, join(existing, 'config.json')]) chownSync(path, Number(ids[2]), Number(ids[3]))
  return dockerUsers.map((name) => `/home/${name}/.docker/config.json`)
}

/** Each docker user, not root, reads their config and says who owns it (in the booted system). */
const readAsDockerUsers = dockerUsers
  .map(
    (name) =>
      `setpriv --reuid=${name} --regid=${name} --init-groups cat /home/${name}/.docker/config.json > /results/as-${name}; stat -c %%U:%%G:%%a /home/${name}/.docker /home/${name}/.docker/config.json > /results/stat-${name}`,
  )
  .join('; ')

/**
 * What the live test's service runs in the booted system: `install --now` and `uninstall` against
 * that system's own systemd (no --root), as an operator would, recording what each left behind.
 */
const liveScript = `#!/bin/sh
cli="${boundNode} ${boundRepo}/bin/iid-docker-auth.cjs"
$cli install --now --registry pierone.example.com --config /root/.docker/config.json --timeout 10 --json > /results/live-install.json 2> /results/live-install.err
echo $? > /results/live-install-code
systemctl show iid-docker-auth.service -p LoadState,ActiveState,Result,ExecMainStatus,UnitFileState,TimeoutStartUSec > /results/live-show-installed
stat -c %a /root/.docker/config.json > /results/live-config-mode
$cli uninstall --json > /results/live-uninstall.json 2> /results/live-uninstall.err
echo $? > /results/live-uninstall-code
for f in /etc/systemd/system/iid-docker-auth.service /etc/default/iid-docker-auth /etc/systemd/system/*.wants/iid-docker-auth.service; do
  if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi
done > /results/live-left
systemctl show iid-docker-auth.service -p LoadState,ActiveState > /results/live-show-removed
systemctl poweroff --no-block
`

/**
 * A unit per settings file that prints the environment systemd builds from it, in the same boot
 * (no boot of its own): `empty` shows what systemd adds by itself.
 */
function addEnvironmentFileUnits(root: string, files: Record<string, Buffer>): void {
  mkdirSync(join(root, 'etc/iid-envtest'))
  writeFileSync(
    join(root, 'etc/systemd/system/iid-envtest@.service'),
    `[Unit]
Description=prints the environment systemd reads from /etc/iid-envtest/%i
Before=test-finish.service
[Service]
Type=oneshot
EnvironmentFile=-/etc/iid-envtest/%i
ExecStart=/usr/bin/env -0
StandardOutput=file:/results/envtest-%i
`,
  )
  for (const [name, bytes] of Object.entries({ empty: Buffer.alloc(0), ...files })) {
    writeFileSync(join(root, 'etc/iid-envtest', name), bytes)
    mkdirSync(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true })
    symlinkSync(
      '/etc/systemd/system/iid-envtest@.service',
      join(root, 'etc/systemd/system/multi-user.target.wants', `iid-envtest@${name}.service`),
    )
  }
}

/** DMI facts as sysfs shows them, of an EC2 Nitro instance and of a laptop VM. */
const machines = {
  ec2: {
    sys_vendor: 'Amazon EC2',
    product_name: 'm5.large',
    product_uuid: 'ec2e1916-9099-7caf-fd21-012345abcdef',
    chassis_asset_tag: 'i-0123456789abcdef0',
  },
  laptop: { sys_vendor: 'QEMU', product_name: 'Standard PC (Q35 + ICH9, 2009)', product_uuid: '0b5ef7a2-1c47-4d2a-9f0e-3b6c8d1e2f3a' },
} as const
/**
 * Where the booted system sees those facts. This host may have no /sys/class/dmi/id to bind over
 * (a VM without firmware tables), so the fake sysfs goes over /sys/firmware, still under the /sys
 * the unit's sandbox makes read-only, and IID_DOCKER_AUTH_SYSFS points every service at it.
 */
const fakeSysfs = '/sys/firmware'
/** The node and the CLI at paths holding what systemd would expand: `$HOME`, `%h`, a space. */
const oddDir = '/opt/odd$HOME%h dir'

/**
 * live: no unit installed beforehand; a service runs liveScript in the booted system instead.
 * imds: false starts no simulator, so IMDS refuses every connection, as off EC2.
 */
async function boot(
  tree: string,
  {
    faults = [],
    live = false,
    machine = 'ec2',
    imds = true,
    timeout = '10',
    oddPaths = false,
    managerEnvironment = [],
    envFiles = {},
  }: {
    faults?: string[]
    live?: boolean
    machine?: keyof typeof machines
    imds?: boolean
    timeout?: string
    oddPaths?: boolean
    managerEnvironment?: string[]
    envFiles?: Record<string, Buffer>
  } = {},
): Promise<BootResult> {
  const work = mkdtempSync(join(tmpdir(), 'iid-boot-'))
  const [results, record] = ['results', 'record'].map((d) => join(work, d)) as [string, string]
  for (const d of [results, record]) mkdirSync(d)
  let sim: ChildProcess | undefined
  let overlay: { root: string; unmount(): void } | undefined
  let netns: { name: string; remove(): void } | undefined
  try {
    overlay = overlayRoot(tree, work)
    const root = overlay.root
    mkdirSync(join(root, 'var/log/journal'), { recursive: true })
    const sysfs = join(work, 'sys')
    mkdirSync(join(sysfs, 'class/dmi/id'), { recursive: true })
    for (const [name, value] of Object.entries(machines[machine]))
      writeFileSync(join(sysfs, 'class/dmi/id', name), `${value}\n`, { mode: name === 'product_uuid' ? 0o400 : 0o444 })
    mkdirSync(join(root, 'etc/systemd/system.conf.d'), { recursive: true })
    writeFileSync(
      join(root, 'etc/systemd/system.conf.d/iid-test.conf'),
      `[Manager]\nDefaultEnvironment=IID_DOCKER_AUTH_SYSFS=${fakeSysfs} ${managerEnvironment.join(' ')}\n`,
    )

    // The tool and node are bound in at fixed paths: the unit has PrivateTmp=yes, so a checkout
    // under /tmp (as CI's may be) would be invisible to it at its own path.
    if (!live) {
      const userConfigs = addDockerUsers(root)
      const configArgs = ['/root/.docker/config.json', ...userConfigs].flatMap((c) => ['--config', c])
      const [node, repo] = oddPaths ? [`${oddDir}/node`, `${oddDir}/iid-docker-auth`] : [boundNode, boundRepo]
      const install = await runCli([
        'install',
        '--root',
        root,
        '--registry',
        'pierone.example.com',
        ...configArgs,
        '--timeout',
        timeout,
        '--node',
        node,
        '--cli',
        `${repo}/bin/iid-docker-auth.cjs`,
      ])
      expect(install.code, install.stderr).toBe(0)
    }

    dockerStandIn(root, '; stat -c %%a /root/.docker/config.json > /results/config-mode 2>&1 || true')
    writeFileSync(join(root, 'usr/local/sbin/iid-live-test'), liveScript, { mode: 0o755 })
    if (Object.keys(envFiles).length > 0) addEnvironmentFileUnits(root, envFiles)
    unitFile(
      root,
      'test-finish.service',
      `[Unit]
Description=records the outcome and powers off
After=docker.service iid-docker-auth.service
[Service]
Type=oneshot
ExecStart=${live ? '/usr/local/sbin/iid-live-test' : `/bin/sh -c 'for u in iid-docker-auth.service docker.service; do systemctl show $u -p ActiveState,Result,ExecMainStatus,ExecMainStartTimestampMonotonic,ExecMainExitTimestampMonotonic > /results/show-$u; done; systemctl show iid-docker-auth.service -p ExecStart > /results/exec-start; stat -c "%%a %%U" /var/cache/iid-docker-auth > /results/cache; find /var/cache/iid-docker-auth -type f -perm /077 | wc -l >> /results/cache; find /var/cache/iid-docker-auth -type f | wc -l > /results/cache-files; ${readAsDockerUsers}; UV_USE_IO_URING=0 ${boundNode} ${boundRepo}/bin/iid-docker-auth.cjs check --json > /results/check.json 2>/dev/null; systemctl poweroff --no-block'`}
[Install]
WantedBy=multi-user.target
`,
    )

    netns = imdsNamespace()
    const namespace = netns.name
    const faultArgs = faults.flatMap((f) => ['--fault', f])
    if (imds)
      sim = spawn(
        'ip',
        [
          'netns',
          'exec',
          namespace,
          process.execPath,
          join(repoRoot, 'dist/sim/serve.js'),
          '--host',
          '169.254.169.254',
          '--port',
          '80',
          '--record',
          record,
          ...faultArgs,
        ],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      )
    if (sim !== undefined) await waitForLine(sim, 'listening ')

    const console = await bootContainer(root, namespace, [
      `--bind-ro=${process.execPath}:${boundNode}`,
      `--bind-ro=${repoRoot}:${boundRepo}`,
      `--bind=${results}:/results`,
      `--bind-ro=${sysfs}:${fakeSysfs}`,
      ...(oddPaths ? [`--bind-ro=${process.execPath}:${oddDir}/node`, `--bind-ro=${repoRoot}:${oddDir}/iid-docker-auth`] : []),
    ])

    if (sim !== undefined) {
      sim.kill('SIGTERM')
      await new Promise((resolve) => sim!.on('exit', resolve))
      sim = undefined
    }

    const files: Record<string, string> = {}
    const envs: Record<string, Buffer> = {}
    for (const f of readdirSync(results)) {
      if (f.startsWith('envtest-')) envs[f.slice('envtest-'.length)] = readFileSync(join(results, f))
      else files[f] = readFileSync(join(results, f), 'utf8').trim()
    }
    const show: Record<string, Record<string, string>> = {}
    for (const unit of ['iid-docker-auth.service', 'docker.service']) {
      show[unit] = Object.fromEntries(
        (files[`show-${unit}`] ?? '').split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      )
    }
    const journalDir = join(root, 'var/log/journal')
    const journal = execFileSync('journalctl', ['-D', journalDir, '--no-pager', '-o', 'cat']).toString() + console
    const unitJournal = execFileSync('journalctl', [
      '-D',
      journalDir,
      '--no-pager',
      '-o',
      'cat',
      '-u',
      'iid-docker-auth.service',
    ]).toString()
    // Lines the unit logged at priority err (3) or worse, and warning (4) or worse: journald took the <N> prefixes.
    const unitErrors = execFileSync('journalctl', [
      '-D',
      journalDir,
      '--no-pager',
      '-o',
      'cat',
      '-u',
      'iid-docker-auth.service',
      '-p',
      'err',
      'SYSLOG_IDENTIFIER=iid-docker-auth',
    ]).toString()
    const unitInfo = execFileSync('journalctl', [
      '-D',
      journalDir,
      '--no-pager',
      '-o',
      'cat',
      '-u',
      'iid-docker-auth.service',
      '-p',
      'info',
      'SYSLOG_IDENTIFIER=iid-docker-auth',
    ]).toString()
    const rootConfigPath = join(root, 'root/.docker/config.json')
    const rootConfig = existsSync(rootConfigPath) ? readFileSync(rootConfigPath, 'utf8') : undefined
    const pkcs7 = imds ? readFileSync(join(record, 'pkcs7'), 'utf8') : ''
    const tokens = imds ? readFileSync(join(record, 'tokens'), 'utf8') : ''
    const secrets = [...pkcs7.split('\n'), ...tokens.split('\n'), buildAuth(defaultUsername, pkcs7, false)].filter((s) => s.length >= 16)
    return { files, rootConfig, show, journal, unitJournal, unitErrors, unitInfo, secrets, envs }
  } finally {
    if (sim !== undefined) sim.kill('SIGKILL')
    netns?.remove()
    overlay?.unmount()
    rmSync(work, { recursive: true, force: true })
  }
}

const canBoot = process.env['CI'] === 'true' || (rootOrCi && ['systemd-nspawn', 'debootstrap', 'ip'].every(hasCommand))

/** `env -0` output as name -> value. */
const environment = (bytes: Buffer): Record<string, string> =>
  Object.fromEntries(
    bytes
      .toString('utf8')
      .split('\0')
      .filter((e) => e !== '')
      .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
  )

describe.runIf(canBoot)('a real boot under systemd-nspawn', () => {
  let tree: string
  let firstBoot: Promise<BootResult> | undefined
  beforeAll(() => {
    tree = ensureDebianTree()
  }, 660_000)
  // The first boot also runs the settings-file units: one boot serves both tests.
  const bootWithEnvironmentFiles = (): Promise<BootResult> =>
    (firstBoot ??= boot(tree, {
      managerEnvironment: ['UV_USE_IO_URING=1'],
      envFiles: Object.fromEntries(trickyFiles.map((f) => [f.name, f.bytes])),
    }))

  it('writes the credential before docker starts, 0600, with no secret in the journal', async () => {
    // UV_USE_IO_URING=1 in the manager's environment would stop node from taking the docker users' rights: the unit sets it off.
    const result = await bootWithEnvironmentFiles()
    const ours = result.show['iid-docker-auth.service']!
    const docker = result.show['docker.service']!
    expect(ours, result.unitJournal).toMatchObject({ ActiveState: 'active', Result: 'success', ExecMainStatus: '0' })
    expect(docker).toMatchObject({ ActiveState: 'active', Result: 'success' })
    expect(Number(ours['ExecMainExitTimestampMonotonic'])).toBeGreaterThan(0)
    expect(Number(ours['ExecMainExitTimestampMonotonic'])).toBeLessThanOrEqual(Number(docker['ExecMainStartTimestampMonotonic']))
    expect(result.files['docker-saw-entry']).toBe('present')
    expect(result.files['config-mode']).toBe('600')
    expect(result.unitInfo).toContain('iid-docker-auth: wrote pierone.example.com to /root/.docker/config.json')
    expect(result.unitErrors).toBe('')
    expect(result.unitJournal).not.toMatch(/<\d>/)
    // Each docker user, not root, owns and reads their own config, with the entry (and the other one).
    expect(result.files['stat-fresh']).toBe('fresh:fresh:700\nfresh:fresh:600')
    expect(Object.keys(JSON.parse(result.files['as-fresh']!).auths)).toEqual(['pierone.example.com'])
    expect(result.files['stat-existing']).toBe('existing:existing:700\nexisting:existing:600')
    expect(Object.keys(JSON.parse(result.files['as-existing']!).auths)).toEqual(['other.example.com', 'pierone.example.com'])
    expect(result.unitInfo).toContain('iid-docker-auth: wrote pierone.example.com to /home/fresh/.docker/config.json')
    // The unit's cache directory, private to root: Node 22.1 and later keep their compile cache
    // there (NODE_COMPILE_CACHE), nobody else may read it; Node 20 has none.
    expect(result.files['cache']).toBe('700 root\n0')
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number]
    expect(Number(result.files['cache-files']) > 0).toBe(major > 22 || (major === 22 && minor >= 1))
    // check, run in the booted system, sees the unit and the entry as an operator would.
    const check = validJson(result.files['check.json']!, 'check')
    expect(check.exitCode).toBe(0)
    expect(check.checks.filter((c: { area: string }) => c.area === 'unit')).toEqual([
      {
        area: 'unit',
        verdict: 'ok',
        message:
          'iid-docker-auth.service was installed by iid-docker-auth install (/etc/systemd/system/iid-docker-auth.service); uninstall removes it',
        fix: null,
        exitCode: null,
      },
      { area: 'unit', verdict: 'ok', message: 'iid-docker-auth.service is installed and enabled', fix: null, exitCode: null },
      { area: 'unit', verdict: 'ok', message: 'iid-docker-auth.service ran successfully this boot', fix: null, exitCode: null },
    ])
    for (const secret of result.secrets) expect(result.journal.includes(secret), 'a secret reached the journal').toBe(false)
  }, 180_000)

  it('systemd sets from each tricky settings file exactly what our reader gives', async () => {
    const result = await bootWithEnvironmentFiles()
    const version = execFileSync('dpkg-query', [`--admindir=${join(tree, 'var/lib/dpkg')}`, '-W', '-f', '${Version}', 'systemd']).toString()
    const before254 = Number.parseInt(version, 10) < 254
    // What systemd adds by itself (PATH, INVOCATION_ID, ...): never a name the files set.
    const own = new Set(Object.keys(environment(result.envs['empty']!)))
    for (const f of trickyFiles) {
      expect(result.envs[f.name], `no output for ${f.name}: ${result.journal.slice(-2000)}`).toBeDefined()
      const fromSystemd = Object.fromEntries(Object.entries(environment(result.envs[f.name]!)).filter(([name]) => !own.has(name)))
      const parsed = parseEnvironmentFile(f.bytes)
      const ours = Object.fromEntries(parsed.entries.map((e) => [e.name, e.value]))
      // Where versions differ the reader refuses the file; systemd does what its version does.
      const expected = f.systemd === undefined ? ours : before254 ? f.systemd.before254 : f.systemd.from254
      expect(parsed.unusable === undefined, f.name).toBe(f.systemd === undefined)
      expect(fromSystemd, `${f.name} (systemd ${version})`).toEqual(expected)
    }
  }, 180_000)

  it('with IMDS answering 403: the unit fails with status 69 and docker starts anyway', async () => {
    const result = await boot(tree, { faults: ['token=403'] })
    expect(result.show['iid-docker-auth.service']).toMatchObject({ ActiveState: 'failed', Result: 'exit-code', ExecMainStatus: '69' })
    expect(result.show['docker.service']).toMatchObject({ ActiveState: 'active', Result: 'success' })
    expect(result.files['docker-saw-entry']).toBe('absent')
    expect(result.unitErrors).toMatch(/^iid-docker-auth: error: IMDS at http:\/\/169\.254\.169\.254\/ gave up: .*HTTP 403$/m)
    expect(result.unitErrors).toMatch(/^iid-docker-auth: fix: /m)
    const check = validJson(result.files['check.json']!, 'check')
    expect(check.exitCode).toBe(69)
    expect(check.checks.find((c: { area: string; verdict: string }) => c.area === 'unit' && c.verdict === 'fail')).toMatchObject({
      exitCode: 69,
      fix: 'journalctl -b -u iid-docker-auth.service',
    })
    for (const secret of result.secrets) expect(result.journal.includes(secret), 'a secret reached the journal').toBe(false)
  }, 180_000)

  it('off EC2 (DMI of a laptop VM, IMDS refusing): the unit ends at once with 69, docker starts without waiting its deadline', async () => {
    // The default 120 s deadline, and the node and CLI at paths with `$HOME`, `%h` and a space in them.
    const result = await boot(tree, { machine: 'laptop', imds: false, timeout: '120', oddPaths: true })
    const ours = result.show['iid-docker-auth.service']!
    const docker = result.show['docker.service']!
    expect(ours, result.unitJournal).toMatchObject({ ActiveState: 'failed', Result: 'exit-code', ExecMainStatus: '69' })
    expect(result.unitErrors).toContain(
      'iid-docker-auth: error: not EC2 (DMI sys_vendor "QEMU", product_name "Standard PC (Q35 + ICH9, 2009)"): IMDS not asked',
    )
    expect(result.unitErrors).toMatch(/^iid-docker-auth: fix: .*IID_DOCKER_AUTH_PLATFORM=ec2/m)
    const ranSeconds = (Number(ours['ExecMainExitTimestampMonotonic']) - Number(ours['ExecMainStartTimestampMonotonic'])) / 1e6
    expect(ranSeconds).toBeGreaterThan(0)
    expect(ranSeconds).toBeLessThan(30)
    expect(docker).toMatchObject({ ActiveState: 'active', Result: 'success' })
    expect(Number(ours['ExecMainExitTimestampMonotonic'])).toBeLessThanOrEqual(Number(docker['ExecMainStartTimestampMonotonic']))
    // systemd ran node at its own path and gave it the CLI's path unexpanded: the tool itself said "not EC2".
    expect(result.files['exec-start']).toContain(`path=${oddDir}/node ;`)
    const check = validJson(result.files['check.json']!, 'check')
    expect(check.checks[0]).toMatchObject({
      area: 'imds',
      verdict: 'fail',
      exitCode: 69,
      message: expect.stringMatching(/^not EC2 \(DMI sys_vendor "QEMU"/),
    })
  }, 180_000)

  it('install --now and uninstall on the booted system: the unit runs at once, and uninstall stops and removes it', async () => {
    const result = await boot(tree, { live: true })
    const fields = (text: string | undefined) =>
      Object.fromEntries((text ?? '').split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
    expect(result.files['live-install-code'], result.files['live-install.err']).toBe('0')
    const installed = validJson(result.files['live-install.json']!, 'install')
    expect(
      installed.steps.filter((s: { action: string }) => s.action === 'systemctl').map((s: { args: string[] }) => s.args.join(' ')),
    ).toEqual(['daemon-reload', 'enable iid-docker-auth.service', 'start iid-docker-auth.service'])
    expect(fields(result.files['live-show-installed']), result.unitJournal).toEqual({
      LoadState: 'loaded',
      ActiveState: 'active',
      Result: 'success',
      ExecMainStatus: '0',
      UnitFileState: 'enabled',
      TimeoutStartUSec: '3min',
    })
    expect(result.files['live-config-mode']).toBe('600')
    expect(Object.keys(JSON.parse(result.rootConfig!).auths)).toEqual(['pierone.example.com'])
    expect(result.unitInfo).toContain('iid-docker-auth: wrote pierone.example.com to /root/.docker/config.json')

    expect(result.files['live-uninstall-code'], result.files['live-uninstall.err']).toBe('0')
    const uninstalled = validJson(result.files['live-uninstall.json']!, 'install')
    expect(uninstalled.steps.map((s: { action: string; args?: string[] }) => (s.args === undefined ? s.action : s.args.join(' ')))).toEqual(
      ['stop iid-docker-auth.service', 'disable iid-docker-auth.service', 'remove', 'remove', 'daemon-reload'],
    )
    expect(result.files['live-left']).toBe('')
    expect(fields(result.files['live-show-removed'])).toEqual({ LoadState: 'not-found', ActiveState: 'inactive' })
    // uninstall takes the unit away, never the credential it wrote.
    expect(Object.keys(JSON.parse(result.rootConfig!).auths)).toEqual(['pierone.example.com'])
    const outputs = Object.values(result.files).join('\n')
    for (const secret of result.secrets) {
      expect(result.journal.includes(secret), 'a secret reached the journal').toBe(false)
      expect(outputs.includes(secret), 'a secret reached the output of install or uninstall').toBe(false)
    }
  }, 180_000)
})
