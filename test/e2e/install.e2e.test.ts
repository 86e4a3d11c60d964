// install / uninstall / remove through the built CLI into an alternate root (never this machine's
// /etc/systemd), and the real systemd-analyze judging the unit.
import { execFileSync } from 'node:child_process'
import { execa } from 'execa'
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { buildAuth } from '../../src/imds/identity.js'
import { cliPath, haveOrCi, rootOrCi, runCli, runProgram, useSimulator, validJson } from '../support/helpers.js'

let root: string
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'iid-root-'))
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true })
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n')
})
afterEach(() => rmSync(root, { recursive: true, force: true }))

const unit = () => join(root, 'etc/systemd/system/iid-docker-auth.service')
const envFile = () => join(root, 'etc/default/iid-docker-auth')
const install = (...args: string[]) => runCli(['install', '--root', root, '--registry', 'pierone.example.com', ...args])

describe('install --root', () => {
  it('runs a program given by its path under the root at its path inside the image, and warns of one not in it', async () => {
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true })
    writeFileSync(join(root, 'usr/local/bin/iid-docker-auth'), '')
    const inside = await install(
      '--node',
      join(root, 'usr/local/bin/iid-docker-auth'),
      '--cli',
      join(root, 'usr/local/bin/iid-docker-auth'),
    )
    expect(inside.code, inside.stderr).toBe(0)
    expect(readFileSync(unit(), 'utf8')).toContain('ExecStart=/usr/local/bin/iid-docker-auth /usr/local/bin/iid-docker-auth write')
    expect(inside.stderr).not.toMatch(/not in the image/)
    const outside = await install('--force', '--node', '/opt/elsewhere/node')
    expect(outside.stderr).toMatch(/the unit will run \/opt\/elsewhere\/node, which is not in the image/)
  })

  it('refuses a masked unit (as a removed .deb leaves it), naming the mask and how to lift it', async () => {
    symlinkSync('/dev/null', unit())
    const run = await install()
    expect(run.code).toBe(64)
    expect(run.stderr).toMatch(/iid-docker-auth\.service is masked .* links to \/dev\/null/)
    expect(run.stderr).toMatch(/dpkg --purge iid-docker-auth/)
    expect(lstatSync(unit()).isSymbolicLink()).toBe(true)
  })

  it('renders the unit for the running node and CLI, writes the environment file 0644 (settings only), and enables it', async () => {
    const run = await install(
      '--config',
      '/root/.docker/config.json',
      '--config',
      '/var/lib/kubelet/config.json',
      '--timeout',
      '90',
      '--signature',
      'rsa2048',
    )
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toContain(`wrote ${unit()} (mode 0644)`)
    expect(run.stderr).toContain(`wrote ${envFile()} (mode 0644)`)
    // In an image the tool makes the links systemctl enable would: systemctl --root follows the image's links out of it.
    for (const target of ['multi-user.target', 'docker.service', 'containerd.service', 'kubelet.service']) {
      const link = join(root, 'etc/systemd/system', `${target}.wants`, 'iid-docker-auth.service')
      expect(run.stderr).toContain(`linked ${link} -> /etc/systemd/system/iid-docker-auth.service`)
      expect(readlinkSync(link)).toBe('/etc/systemd/system/iid-docker-auth.service')
    }
    expect(statSync(unit()).mode & 0o777).toBe(0o644)
    expect(statSync(envFile()).mode & 0o777).toBe(0o644)
    const text = readFileSync(unit(), 'utf8')
    expect(text).toContain(`ExecStart=${process.execPath} ${cliPath} write`)
    expect(text).toContain('ReadWritePaths=-/var/lib/kubelet')
    const env = readFileSync(envFile(), 'utf8')
    expect(env).toMatch(/^IID_DOCKER_AUTH_REGISTRIES=pierone\.example\.com$/m)
    expect(env).toMatch(/^IID_DOCKER_AUTH_CONFIG=\/root\/\.docker\/config\.json,\/var\/lib\/kubelet\/config\.json$/m)
    expect(env).toMatch(/^IID_DOCKER_AUTH_TIMEOUT=90$/m)
    expect(env).toMatch(/^IID_DOCKER_AUTH_SIGNATURE=rsa2048$/m)
    expect(env).not.toMatch(/ENDPOINT/)
    for (const target of ['multi-user.target', 'docker.service', 'containerd.service', 'kubelet.service']) {
      const link = join(root, 'etc/systemd/system', `${target}.wants`, 'iid-docker-auth.service')
      expect(lstatSync(link).isSymbolicLink()).toBe(true)
      expect(readlinkSync(link)).toBe('/etc/systemd/system/iid-docker-auth.service')
    }
  })

  it('warns when the unit would run node or the CLI from /tmp, which PrivateTmp hides', async () => {
    const run = await install('--cli', '/tmp/x/bin/iid-docker-auth.cjs')
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(/warning: the unit runs with PrivateTmp=yes and cannot see \/tmp\/x\/bin\/iid-docker-auth\.cjs/)
  })

  it('defaults the config file to the passwd home of root inside the image', async () => {
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/var/roothome:/bin/sh\n')
    expect((await install()).code).toBe(0)
    expect(readFileSync(envFile(), 'utf8')).toMatch(/^IID_DOCKER_AUTH_CONFIG=\/var\/roothome\/\.docker\/config\.json$/m)
    expect(readFileSync(unit(), 'utf8')).toContain('ReadWritePaths=-/var/roothome/.docker')
  })

  it('is idempotent, keeps an edited environment file unless --force, and --dry-run changes nothing', async () => {
    expect((await install()).code).toBe(0)
    const again = await install()
    expect(again.code).toBe(0)
    expect(again.stderr).toContain(`${envFile()} already current`)

    writeFileSync(envFile(), `${readFileSync(envFile(), 'utf8')}IID_DOCKER_AUTH_LOG_LEVEL=verbose\n`)
    const edited = readFileSync(envFile())
    const refused = await install('--timeout', '30')
    expect(refused.code).toBe(73)
    expect(refused.stderr).toMatch(/edited by hand; nothing was changed/)
    expect(refused.stderr).toMatch(/fix: .*--force/)
    expect(readFileSync(envFile()).equals(edited)).toBe(true)

    const dry = await install('--timeout', '30', '--force', '--dry-run')
    expect(dry.code).toBe(0)
    expect(dry.stderr).toContain(`would write ${envFile()}`)
    expect(readFileSync(envFile()).equals(edited)).toBe(true)

    const forced = await install('--timeout', '30', '--force')
    expect(forced.code).toBe(0)
    expect(readFileSync(envFile(), 'utf8')).toMatch(/^IID_DOCKER_AUTH_TIMEOUT=30$/m)
  })

  it('--json describes the steps', async () => {
    const run = await install('--json', '--no-enable')
    expect(validJson(run.stdout, 'install')).toEqual({
      ok: true,
      exitCode: 0,
      command: 'install',
      dryRun: false,
      root,
      steps: [
        { action: 'write', path: unit() },
        { action: 'write', path: envFile() },
      ],
      error: null,
    })
  })

  it.each([
    [['--now'], /--now cannot start a unit in an alternate --root/],
    [['--config', 'relative.json'], /must be an absolute path for the unit/],
    [['--unit-dir', 'x'], /--unit-dir "x" must be absolute/],
    [['--registry', 'bad host'], /white space/],
    [['--config', '/srv/a,b/config.json'], /contains a comma/],
  ])('exits 64 on %j and writes nothing', async (args, message) => {
    const run = await install(...args)
    expect(run.code).toBe(64)
    expect(run.stderr).toMatch(message)
    expect(existsSync(unit())).toBe(false)
  })

  it.each(['/etc/config.json', '/config.json', '/tmp/c.json', '/var/lib/config.json'])(
    'refuses --config %s directly in a system directory with 64, and writes nothing',
    async (config) => {
      const run = await install('--config', config)
      expect(run.code).toBe(64)
      expect(run.stderr).toMatch(/error: --config .* is (a system directory|under a temporary directory)/)
      expect(run.stderr).toMatch(/fix: keep the config file in a directory of its own/)
      expect(existsSync(unit())).toBe(false)
      expect(existsSync(envFile())).toBe(false)
    },
  )

  it('makes writable the directory a symlinked --config really lives in (inside the root), and never chmods one that exists', async () => {
    mkdirSync(join(root, 'srv/shared/docker'), { recursive: true, mode: 0o755 })
    mkdirSync(join(root, 'root/.docker'), { recursive: true, mode: 0o755 })
    symlinkSync('/srv/shared/docker/config.json', join(root, 'root/.docker/config.json'))
    const run = await install('--config', '/root/.docker/config.json')
    expect(run.code, run.stderr).toBe(0)
    const text = readFileSync(unit(), 'utf8')
    expect(text.split('\n').filter((l) => l.startsWith('ReadWritePaths='))).toEqual(['ReadWritePaths=-/srv/shared/docker'])
    expect(text.split('\n').filter((l) => l.startsWith('ExecStartPre='))).toEqual([
      `ExecStartPre=-+${process.execPath} ${cliPath} prepare-dirs`,
    ])
    expect(text).toMatch(/^CapabilityBoundingSet=CAP_SETUID CAP_SETGID$/m)
    expect(statSync(join(root, 'root/.docker')).mode & 0o7777).toBe(0o755)
    // A symlink into a system directory is refused like the directory itself.
    symlinkSync('/etc/config.json', join(root, 'root/.docker/etc.json'))
    const refused = await install('--config', '/root/.docker/etc.json', '--force')
    expect(refused.code).toBe(64)
    expect(refused.stderr).toMatch(/\/etc is a system directory/)
  })

  it('renders the unit for --timeout and --endpoint: its start limit above the deadline, the endpoint reachable', async () => {
    const run = await install('--timeout', '600', '--endpoint', 'http://127.0.0.1:18000')
    expect(run.code, run.stderr).toBe(0)
    const text = readFileSync(unit(), 'utf8')
    expect(text).toMatch(/^TimeoutStartSec=660$/m)
    expect(text).toMatch(/^IPAddressAllow=169\.254\.169\.254 fd00:ec2::254 127\.0\.0\.1$/m)
    expect(readFileSync(envFile(), 'utf8')).toMatch(/^IID_DOCKER_AUTH_TIMEOUT=600$/m)
  })

  it('refuses an --endpoint that names a host with 64: the sandbox allows addresses, not names', async () => {
    const run = await install('--endpoint', 'http://imds.internal:8080')
    expect(run.code).toBe(64)
    expect(run.stderr).toMatch(/error: --endpoint http:\/\/imds\.internal:8080\/ names a host, not an address/)
    expect(run.stderr).toMatch(/fix: give its IP address/)
    expect(existsSync(unit())).toBe(false)
    expect(existsSync(envFile())).toBe(false)
  })

  it.each(['install', 'uninstall'])(
    '%s refuses a --root that does not exist or is not a directory with 64, creating nothing',
    async (command) => {
      const missing = join(root, 'typo')
      const registry = command === 'install' ? ['--registry', 'pierone.example.com'] : []
      const run = await runCli([command, '--root', missing, ...registry])
      expect(run.code).toBe(64)
      expect(run.stderr).toMatch(/error: --root .*typo does not exist/)
      expect(existsSync(missing)).toBe(false)
      writeFileSync(missing, '')
      const file = await runCli([command, '--root', missing, ...registry])
      expect(file.code).toBe(64)
      expect(file.stderr).toMatch(/error: --root .*typo is not a directory/)
    },
  )

  it('reads the IID_DOCKER_AUTH_* variables as every command does: a flag wins, an empty list is 64', async () => {
    const fromEnv = await runCli(['install', '--root', root], {
      env: {
        IID_DOCKER_AUTH_REGISTRIES: ' a.example.com , b.example.com',
        IID_DOCKER_AUTH_CONFIG: '/var/lib/kubelet/config.json',
        IID_DOCKER_AUTH_TIMEOUT: '600',
      },
    })
    expect(fromEnv.code, fromEnv.stderr).toBe(0)
    const env = readFileSync(envFile(), 'utf8')
    expect(env).toMatch(/^IID_DOCKER_AUTH_REGISTRIES=a\.example\.com,b\.example\.com$/m)
    expect(env).toMatch(/^IID_DOCKER_AUTH_CONFIG=\/var\/lib\/kubelet\/config\.json$/m)
    expect(env).toMatch(/^IID_DOCKER_AUTH_TIMEOUT=600$/m)
    expect(readFileSync(unit(), 'utf8')).toMatch(/^TimeoutStartSec=660$/m)
    for (const empty of ['', ',', ' , ']) {
      const run = await runCli(['install', '--root', root, '-r', 'a.example.com', '--force'], { env: { IID_DOCKER_AUTH_CONFIG: empty } })
      expect(run.code, run.stderr).toBe(64)
      expect(run.stderr).toMatch(/IID_DOCKER_AUTH_CONFIG .* names no config file/)
    }
    expect(readFileSync(envFile(), 'utf8')).toBe(env)
  })

  it('--credential-helper writes nothing, not even the environment file, when a config file is refused (78)', async () => {
    mkdirSync(join(root, 'srv/app'), { recursive: true })
    writeFileSync(join(root, 'srv/app/config.json'), '{"auths":[]}')
    const run = await install('--credential-helper', '--config', '/srv/app/config.json', '--json')
    expect(run.code).toBe(78)
    expect(run.stderr).toContain('has "auths" as a JSON array, not an object')
    expect(existsSync(envFile())).toBe(false)
    expect(validJson(run.stdout, 'install')).toMatchObject({ ok: false, exitCode: 78, steps: [] })
    expect(readFileSync(join(root, 'srv/app/config.json'), 'utf8')).toBe('{"auths":[]}')
  })

  it('--credential-helper --json: the settings file as a step, each config file as write reports it', async () => {
    mkdirSync(join(root, 'root'))
    const config = join(root, 'root/.docker/config.json')
    const dry = validJson((await install('--credential-helper', '--json', '--dry-run')).stdout, 'install')
    expect(dry.steps).toEqual([{ action: 'write', path: envFile() }])
    expect(dry.configs).toMatchObject([{ path: config, action: 'would-write', added: ['credHelpers["pierone.example.com"]'] }])
    expect(existsSync(envFile())).toBe(false)
    const run = await install('--credential-helper', '--json')
    expect(run.code, run.stderr).toBe(0)
    expect(validJson(run.stdout, 'install')).toMatchObject({
      ok: true,
      steps: [{ action: 'write', path: envFile() }],
      configs: [{ path: config, action: 'written' }],
    })
    const again = validJson((await install('--credential-helper', '--json')).stdout, 'install')
    expect(again).toMatchObject({
      steps: [{ action: 'unchanged', path: envFile() }],
      configs: [{ path: config, action: 'unchanged', added: [] }],
    })
  })

  it('exits 64 without any registry', async () => {
    const run = await runCli(['install', '--root', root])
    expect(run.code).toBe(64)
    expect(run.stderr).toMatch(/install needs the registries/)
  })

  it.runIf(rootOrCi)('on this machine: exits 71 with a clear message when systemctl is missing, and when it fails', async () => {
    // This machine's unit and settings directories, private to the run: a tmpfs over each.
    const bin = join(root, 'fakebin')
    mkdirSync(bin)
    const onHost = (path: string) =>
      runProgram('unshare', [
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount -t tmpfs -o mode=0755 tmpfs /etc/systemd/system && mount -t tmpfs -o mode=0755 tmpfs /etc/default && PATH="$0" exec "$@"',
        path,
        process.execPath,
        cliPath,
        'install',
        '-r',
        'r.example.com',
        '--json',
      ])
    const missing = await onHost(bin)
    expect(missing.status, missing.stderr).toBe(71)
    expect(missing.stderr).toMatch(/systemctl was not found: this machine does not run systemd/)
    expect(validJson(missing.stdout, 'install')).toMatchObject({ ok: false, exitCode: 71 })
    writeFileSync(join(bin, 'systemctl'), '#!/bin/sh\necho "Failed to reload: no bus." >&2\nexit 1\n')
    chmodSync(join(bin, 'systemctl'), 0o755)
    const failing = await onHost(`${bin}:/usr/bin:/bin`)
    expect(failing.status).toBe(71)
    expect(failing.stderr).toMatch(/systemctl daemon-reload failed \(exit 1\): Failed to reload/)
  })
})

describe('uninstall --root', () => {
  it('disables and removes exactly what install created', async () => {
    const listing = (): string[] => execFileSync('find', [root]).toString().trim().split('\n').sort()
    const before = listing()
    expect((await install('--config', '/var/lib/kubelet/config.json')).code).toBe(0)
    const run = await runCli(['uninstall', '--root', root, '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(validJson(run.stdout, 'install').steps.map((s: { action: string }) => s.action)).toEqual([
      'unlink',
      'unlink',
      'unlink',
      'unlink',
      'remove',
      'remove',
    ])
    expect(run.stderr).toContain(`removed ${join(root, 'etc/systemd/system/multi-user.target.wants/iid-docker-auth.service')}`)
    expect(run.stderr).toContain(`removed ${unit()}`)
    expect(run.stderr).toContain(`removed ${envFile()}`)
    // Only the (empty) /etc/default directory that install created is left.
    expect(listing()).toEqual([...before, join(root, 'etc/default')].sort())
  })

  it('keeps a hand-edited environment file and says so', async () => {
    expect((await install()).code).toBe(0)
    writeFileSync(envFile(), 'IID_DOCKER_AUTH_REGISTRIES=mine.example.com\n')
    const run = await runCli(['uninstall', '--root', root])
    expect(run.code).toBe(0)
    expect(run.stderr).toContain(`kept ${envFile()}: edited by hand`)
    expect(existsSync(envFile())).toBe(true)
    expect(existsSync(unit())).toBe(false)
  })

  it('says so when nothing is installed', async () => {
    const run = await runCli(['uninstall', '--root', root])
    expect(run.code).toBe(0)
    expect(run.stderr).toContain('nothing is installed')
  })
})

describe('--root confines every path to the image, as a chroot does', () => {
  let outside: string
  beforeEach(() => {
    outside = mkdtempSync(join(tmpdir(), 'iid-outside-'))
  })
  afterEach(() => rmSync(outside, { recursive: true, force: true }))

  /** Every file under `dir`, relative to it. */
  const filesUnder = (dir: string): string[] => readdirSync(dir, { recursive: true }).map(String).sort()

  it('install and uninstall follow absolute links inside the root, never onto the build host', async () => {
    // Absolute links, as images have them: on the host they point at `outside`, in the image at ROOT/outside.
    rmSync(join(root, 'etc/systemd/system'), { recursive: true })
    symlinkSync(join(outside, 'units'), join(root, 'etc/systemd/system'))
    symlinkSync(join(outside, 'default'), join(root, 'etc/default'))
    mkdirSync(join(outside, 'units'))
    writeFileSync(join(outside, 'units', 'iid-docker-auth.service'), "# the host's own\n")
    const run = await install('--config', '/root/.docker/config.json')
    expect(run.code, run.stderr).toBe(0)
    const inside = join(root, outside)
    expect(readFileSync(join(inside, 'units', 'iid-docker-auth.service'), 'utf8')).toContain('ExecStart=')
    expect(readFileSync(join(inside, 'default', 'iid-docker-auth'), 'utf8')).toContain('IID_DOCKER_AUTH_REGISTRIES=pierone.example.com')
    expect(filesUnder(outside)).toEqual(['units', 'units/iid-docker-auth.service'])
    expect(readFileSync(join(outside, 'units', 'iid-docker-auth.service'), 'utf8')).toBe("# the host's own\n")
    // uninstall removes the image's files, never the host's.
    const removed = await runCli(['uninstall', '--root', root])
    expect(removed.code, removed.stderr).toBe(0)
    expect(existsSync(join(inside, 'units', 'iid-docker-auth.service'))).toBe(false)
    expect(existsSync(join(inside, 'default', 'iid-docker-auth'))).toBe(false)
    expect(readFileSync(join(outside, 'units', 'iid-docker-auth.service'), 'utf8')).toBe("# the host's own\n")
  })

  it('install --credential-helper merges into the image’s config, never the host’s, and `..` stops at the root', async () => {
    mkdirSync(join(outside, 'docker'))
    const hostConfig = join(outside, 'docker', 'config.json')
    writeFileSync(hostConfig, '{"auths": {}}\n')
    mkdirSync(join(root, 'root'))
    symlinkSync(join(outside, 'docker'), join(root, 'root', '.docker'))
    mkdirSync(join(root, 'srv'))
    symlinkSync('../../../../../../../../etc/kube', join(root, 'srv', 'kube'))
    mkdirSync(join(root, outside), { recursive: true })
    const run = await install('--credential-helper', '--config', '/root/.docker/config.json', '--config', '/srv/kube/config.json')
    expect(run.code, run.stderr).toBe(0)
    expect(readFileSync(hostConfig, 'utf8')).toBe('{"auths": {}}\n')
    expect(JSON.parse(readFileSync(join(root, outside, 'docker', 'config.json'), 'utf8')).credHelpers).toEqual({
      'pierone.example.com': 'iid',
    })
    expect(JSON.parse(readFileSync(join(root, 'etc', 'kube', 'config.json'), 'utf8')).credHelpers).toEqual({ 'pierone.example.com': 'iid' })
    expect(filesUnder(outside)).toEqual(['docker', 'docker/config.json'])
  })

  it('cleans up the temp file a killed install left beside the unit', async () => {
    const leftover = join(root, 'etc/systemd/system', '.iid-docker-auth.service.0123456789ab.tmp')
    writeFileSync(leftover, 'half a unit')
    const run = await install()
    expect(run.code, run.stderr).toBe(0)
    expect(existsSync(leftover)).toBe(false)
  })

  it('a FIFO at the unit path: 78 naming it, a hint about that path (not --config), and no hang', async () => {
    execFileSync('mkfifo', [unit()])
    const run = await install()
    expect(run.code, run.stderr).toBe(78)
    expect(run.stderr).toContain(`${unit()} is a FIFO`)
    expect(run.stderr).not.toContain('--config')
  })

  it.runIf(rootOrCi)("refuses to install a --config the unit would refuse: another user's symlink on its way", async () => {
    mkdirSync(join(root, 'srv', 'docker'), { recursive: true })
    symlinkSync('/etc/sudoers.d/x', join(root, 'srv', 'docker', 'config.json'))
    execFileSync('chown', ['-h', '12345:12345', join(root, 'srv', 'docker', 'config.json')])
    const run = await install('--config', '/srv/docker/config.json')
    expect(run.code, run.stderr).toBe(73)
    expect(run.stderr).toContain('/srv/docker/config.json on the way to it belongs to uid 12345')
    expect(existsSync(unit())).toBe(false)
  })

  it.runIf(rootOrCi)(
    'refuses an image tree another user owns: they could swap a directory for a link to the host while root writes',
    async () => {
      execFileSync('chown', ['12345:12345', join(root, 'etc')])
      for (const command of [['install', '--registry', 'pierone.example.com'], ['uninstall']]) {
        const run = await runCli([command[0]!, '--root', root, ...command.slice(1)])
        expect(run.code, run.stderr).toBe(73)
        expect(run.stderr).toContain(`${join(root, 'etc')} belongs to uid 12345`)
      }
      expect(readdirSync(join(root, 'etc/systemd/system'))).toEqual([])
      expect(existsSync(envFile())).toBe(false)
    },
  )

  it.runIf(rootOrCi)('a settings file or unit another user owns is refused, and --force replaces it with root’s own', async () => {
    mkdirSync(join(root, 'etc/default'))
    writeFileSync(envFile(), 'NODE_OPTIONS=--require /home/u/x.js\n')
    execFileSync('chown', ['12345:12345', envFile()])
    const refused = await install()
    expect(refused.code, refused.stderr).toBe(73)
    expect(refused.stderr).toContain(`${envFile()} belongs to uid 12345`)
    expect(existsSync(unit())).toBe(false)
    const forced = await install('--force')
    expect(forced.code, forced.stderr).toBe(0)
    expect(statSync(envFile())).toMatchObject({ uid: 0, gid: 0 })
    expect(readFileSync(envFile(), 'utf8')).not.toContain('NODE_OPTIONS')
  })

  it.runIf(rootOrCi)("a user's own link does not choose what the unit's ReadWritePaths= opens", async () => {
    mkdirSync(join(root, 'home/u'), { recursive: true })
    mkdirSync(join(root, 'root/.ssh'), { recursive: true })
    execFileSync('chown', ['12345:12345', join(root, 'home/u')])
    symlinkSync('/root/.ssh', join(root, 'home/u/.docker'))
    execFileSync('chown', ['-h', '12345:12345', join(root, 'home/u/.docker')])
    const run = await install('--config', '/home/u/.docker/config.json')
    expect(run.code, run.stderr).toBe(73)
    expect(run.stderr).toContain("would choose what the unit's ReadWritePaths= opens")
    expect(existsSync(unit())).toBe(false)
  })

  it('a FIFO or device as the image’s /etc/passwd: a clean refusal, never a hang; not read at all with --config', async () => {
    rmSync(join(root, 'etc/passwd'))
    execFileSync('mkfifo', [join(root, 'etc/passwd')])
    const run = await install('--dry-run')
    expect(run.code, run.stderr).toBe(78)
    expect(run.stderr).toContain('is a FIFO')
    expect((await install('--dry-run', '--config', '/var/lib/kubelet/config.json')).code).toBe(0)
  })

  it.runIf(rootOrCi)(
    'under --root, a way through a directory another uid owns is refused, even reached through a root-owned link',
    async () => {
      mkdirSync(join(root, 'home/u/.docker'), { recursive: true })
      execFileSync('chown', ['-R', '12345:12345', join(root, 'home/u')])
      const helper = await install('--credential-helper', '--config', '/home/u/.docker/config.json')
      expect(helper.code, helper.stderr).toBe(73)
      expect(helper.stderr).toContain(`${join(root, '/home/u')} belongs to uid 12345`)
      expect(readdirSync(join(root, 'home/u/.docker'))).toEqual([])
      // A root-owned link whose way passes the user's directory: judged by the way, not by where it ends.
      mkdirSync(join(root, 'etc/secret'), { mode: 0o700 })
      symlinkSync('/home/u/def', join(root, 'etc/default'))
      symlinkSync('/etc/secret', join(root, 'home/u/def'))
      execFileSync('chown', ['-h', '12345:12345', join(root, 'home/u/def')])
      const run = await install('--config', '/root/.docker/config.json')
      expect(run.code, run.stderr).toBe(73)
      expect(readdirSync(join(root, 'etc/secret'))).toEqual([])
    },
  )

  it('enables and disables inside the image whatever links it holds: .wants, the unit directory, --unit-dir, a unit copy of its own', async () => {
    symlinkSync(outside, join(root, 'etc/systemd/system/multi-user.target.wants'))
    symlinkSync(`../../../../../../../../..${outside}/d`, join(root, 'etc/systemd/system/docker.service.wants'))
    mkdirSync(join(root, 'etc/systemd/system.control'))
    writeFileSync(join(root, 'etc/systemd/system.control/iid-docker-auth.service'), '[Install]\nWantedBy=evil.target\n')
    symlinkSync(outside, join(root, 'etc/systemd/system/evil.target.wants'))
    for (const extra of [[], ['--unit-dir', '/usr/lib/systemd/system']]) {
      const run = await install(...extra)
      expect(run.code, run.stderr).toBe(0)
      expect(readlinkSync(join(root, outside, 'iid-docker-auth.service'))).toMatch(/iid-docker-auth\.service$/)
      const removed = await runCli(['uninstall', '--root', root, ...extra])
      expect(removed.code, removed.stderr).toBe(0)
      expect(readdirSync(outside)).toEqual([])
    }
    // The unit directory itself a link out of the image: the unit and its links land inside.
    rmSync(join(root, 'etc/systemd/system'), { recursive: true })
    mkdirSync(join(root, 'etc/systemd/real'))
    symlinkSync(outside, join(root, 'etc/systemd/system'))
    mkdirSync(join(root, outside), { recursive: true })
    expect((await install()).code).toBe(0)
    expect(lstatSync(join(root, outside, 'multi-user.target.wants/iid-docker-auth.service')).isSymbolicLink()).toBe(true)
    expect(readdirSync(outside)).toEqual([])
  })

  it.runIf(rootOrCi)('a .wants directory another uid owns or may write: refused, its contents untouched', async () => {
    const wants = join(root, 'etc/systemd/system/docker.service.wants')
    mkdirSync(wants, { mode: 0o755 })
    execFileSync('chown', ['12345:12345', wants])
    const run = await install()
    expect(run.code, run.stderr).toBe(73)
    expect(run.stderr).toContain(`${wants} belongs to uid 12345`)
    expect(readdirSync(wants)).toEqual([])
  })

  it('--json names the root on a refusal too', async () => {
    writeFileSync(unit(), '[Unit]\nDescription=someone else\n')
    const run = await install('--json')
    expect(run.code).toBe(73)
    expect(validJson(run.stdout, 'install')).toMatchObject({ ok: false, root, error: { exitCode: 73 } })
  })
})

describe.runIf(haveOrCi('systemctl', 'systemd-analyze'))('systemd-analyze on the unit', () => {
  const render = async (...extra: string[]): Promise<string> => {
    expect((await install('--config', '/root/.docker/config.json', '--config', '/var/lib/kubelet/config.json', ...extra)).code).toBe(0)
    return unit()
  }

  it('verify passes with no output, on the rendered unit and on the shipped one (ExecStart made executable)', async () => {
    const rendered = await render()
    const verify = await execa('systemd-analyze', ['verify', rendered], { reject: false })
    expect(verify.stderr + verify.stdout).toBe('')
    expect(verify.exitCode).toBe(0)
    // The shipped file names /usr/local/bin/iid-docker-auth, which this machine may not have.
    const shipped = join(root, 'shipped', 'iid-docker-auth.service')
    mkdirSync(join(root, 'shipped'))
    writeFileSync(
      shipped,
      readFileSync(join(cliPath, '../../systemd/iid-docker-auth.service'), 'utf8').replace(
        'ExecStart=/usr/local/bin/iid-docker-auth',
        `ExecStart=${cliPath}`,
      ),
    )
    const shippedVerify = await execa('systemd-analyze', ['verify', shipped], { reject: false })
    expect(shippedVerify.stderr + shippedVerify.stdout).toBe('')
    expect(shippedVerify.exitCode).toBe(0)
  })

  it('verify catches a broken unit (so the check above is real)', async () => {
    const rendered = await render()
    writeFileSync(rendered, readFileSync(rendered, 'utf8').replace('ProtectSystem=strict', 'ProtectSytem=strict'))
    const verify = await execa('systemd-analyze', ['verify', rendered], { reject: false })
    expect(verify.stderr).toMatch(/Unknown key 'ProtectSytem'/)
  })

  it.each([[[]], [['--endpoint', 'http://10.0.0.5:8080', '--timeout', '600']]])(
    'security --offline rates the exposure at 2.0 or less (%j)',
    async (extra) => {
      const rendered = await render(...extra)
      const verify = await execa('systemd-analyze', ['verify', rendered], { reject: false })
      expect(verify.stderr + verify.stdout).toBe('')
      const { stdout: out } = await execa('systemd-analyze', ['security', '--offline=yes', rendered])
      const exposure = Number(/Overall exposure level for iid-docker-auth\.service: ([0-9.]+)/.exec(out)?.[1])
      expect(exposure).toBeGreaterThan(0)
      expect(exposure).toBeLessThanOrEqual(2.0)
    },
  )
})

describe('remove', () => {
  const sim = useSimulator()
  let config: string
  beforeEach(() => {
    config = join(root, 'docker', 'config.json')
  })

  it("deletes this tool's entries and nothing else", async () => {
    expect((await runCli(['-r', 'a.example.com,b.example.com', '-c', config, '--endpoint', sim.url])).code).toBe(0)
    const current = JSON.parse(readFileSync(config, 'utf8'))
    current.auths['c.example.com'] = { auth: Buffer.from('robot:secret').toString('base64') }
    current.auths['https://a.example.com/v1/'] = { auth: buildAuth('instance-identity-document', 'old-pkcs7', false) }
    current.credHelpers = { 'x.example.com': 'ecr-login' }
    writeFileSync(config, JSON.stringify(current))
    const run = await runCli(['remove', '-r', 'a.example.com', '-r', 'c.example.com', '-c', config])
    expect(run.code).toBe(0)
    expect(run.stderr).toContain(`removed a.example.com, https://a.example.com/v1/ from ${config}`)
    expect(run.stderr).toMatch(/auths\["c\.example\.com"\] was not written by this tool \(user "robot"\); left alone/)
    const after = JSON.parse(readFileSync(config, 'utf8'))
    expect(Object.keys(after.auths)).toEqual(['b.example.com', 'c.example.com'])
    expect(after.credHelpers).toEqual({ 'x.example.com': 'ecr-login' })

    const again = await runCli(['remove', '-r', 'a.example.com', '-c', config, '--json'])
    expect(again.code).toBe(0)
    expect(again.stderr).toContain('has no entry of this tool to remove')
    expect(validJson(again.stdout, 'remove')).toMatchObject({
      ok: true,
      command: 'remove',
      configs: [{ action: 'unchanged', removed: [] }],
    })
  })

  it('creates nothing when the file does not exist', async () => {
    const run = await runCli(['remove', '-r', 'a.example.com', '-c', config])
    expect(run.code).toBe(0)
    expect(existsSync(join(root, 'docker'))).toBe(false)
  })

  it('refuses an unusable file with exit 78, byte-identical', async () => {
    mkdirSync(join(root, 'docker'))
    writeFileSync(config, '{"auths":')
    const run = await runCli(['remove', '-r', 'a.example.com', '-c', config])
    expect(run.code).toBe(78)
    expect(readFileSync(config, 'utf8')).toBe('{"auths":')
    expect(readdirSync(join(root, 'docker'))).toEqual(['config.json'])
  })
})
