// The .rpm: its files, scriptlets and dependencies as rpm reads them, rpmlint's verdict, and an
// install, reinstall and erase with `rpm --root` in an overlay of the Debian test tree (it has the
// /bin/sh and systemctl the scriptlets run). Every rpm command runs in a private mount namespace
// with a fresh /root, where Debian's rpm keeps its default database: this machine's is never read.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureDebianTree, overlayRoot } from '../support/boot.js'
import { haveOrCi } from '../support/helpers.js'
import { canPackage, ensurePackages, version } from '../support/packages.js'

/** A command with its own /root (rpm's database, rpmlint's cache), so this machine's stay untouched. */
function isolated(command: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs none /root && exec "$@"', 'sh', command, ...args],
    {
      encoding: 'utf8',
    },
  )
}
const rpm = (...args: string[]): string => {
  const run = isolated('rpm', ...args)
  if (run.status !== 0) throw new Error(`rpm ${args.join(' ')} exited ${run.status}: ${run.stderr}`)
  return run.stdout
}

/**
 * rpmlint's complaints we keep, each with why. Anything else fails the test.
 * - no-signature: signing is the publisher's step (docs/packages.md says how); the build signs nothing.
 * - no-url-tag: package.json names no home page yet.
 * - invalid-license: Debian's rpmlint has no list of licence names, so it knows none (MIT, Apache-2.0 and ISC are SPDX names).
 * - position-independent-executable-suggested, binary-or-shlib-calls-gethostbyname: Node.js's official binary, as built upstream.
 * - only-non-binary-in-usr-lib: the unit and preset are in /usr/lib; the binary is in /usr/bin, so the package is rightly x86_64.
 * - no-manual-page-for-binary: the commands document themselves (--help), as the npm package does.
 */
const explained = new Set([
  'no-signature',
  'no-url-tag',
  'invalid-license',
  'position-independent-executable-suggested',
  'binary-or-shlib-calls-gethostbyname',
  'only-non-binary-in-usr-lib',
  'no-manual-page-for-binary',
])

describe.runIf(canPackage && haveOrCi('rpm', 'rpmlint', 'unshare'))('the .rpm', () => {
  let file: string
  beforeAll(() => {
    file = ensurePackages().rpm
  }, 900_000)

  it('holds the executable, the link, the unit, the preset and the settings file as a noreplace config file', () => {
    expect(rpm('-qp', '--qf', '%{NAME} %{VERSION} %{RELEASE} %{ARCH}', file)).toBe(`iid-docker-auth ${version} 1 x86_64`)
    expect(rpm('-qlp', file).trim().split('\n')).toEqual([
      '/etc/default/iid-docker-auth',
      '/usr/bin/docker-credential-iid',
      '/usr/bin/iid-docker-auth',
      '/usr/lib/systemd/system-preset/50-iid-docker-auth.preset',
      '/usr/lib/systemd/system/iid-docker-auth.service',
      '/usr/share/doc/iid-docker-auth',
      '/usr/share/doc/iid-docker-auth/copyright',
    ])
    expect(rpm('-qp', '--configfiles', file).trim()).toBe('/etc/default/iid-docker-auth')
    // %{FILEFLAGS}: 1 is %config, 16 is noreplace.
    const flags = rpm('-qp', '--qf', '[%{FILENAMES} %{FILEFLAGS} %{FILEMODES:perms}\n]', file)
    expect(flags).toContain('/etc/default/iid-docker-auth 17 -rw-r--r--')
    expect(flags).toContain('/usr/bin/iid-docker-auth 0 -rwxr-xr-x')
    expect(flags).toContain('/usr/bin/docker-credential-iid 0 lrwxrwxrwx')
  })

  it('needs systemd and the C and C++ runtimes the executable links, nothing else', () => {
    const requires = rpm('-qpR', file).trim().split('\n')
    expect(requires).toContain('systemd')
    expect(requires).toContain('libc.so.6(GLIBC_2.28)(64bit)')
    expect(requires).toContain('libstdc++.so.6(GLIBCXX_3.4.21)(64bit)')
    const libraries = new Set(requires.filter((r) => r.includes('.so')).map((r) => r.slice(0, r.indexOf('('))))
    expect([...libraries].sort()).toEqual([
      'ld-linux-x86-64.so.2',
      'libc.so.6',
      'libdl.so.2',
      'libgcc_s.so.1',
      'libm.so.6',
      'libpthread.so.0',
      'libstdc++.so.6',
    ])
  })

  it('has the scriptlets the systemd macros expand to', () => {
    const scripts = rpm('-qp', '--scripts', file)
    expect(scripts).toMatch(
      /postinstall scriptlet[^\n]*\n[\s\S]*install-system-units iid-docker-auth\.service[\s\S]*preset iid-docker-auth\.service/,
    )
    expect(scripts).toMatch(
      /preuninstall scriptlet[^\n]*\n[\s\S]*remove-system-units iid-docker-auth\.service[\s\S]*disable --now iid-docker-auth\.service/,
    )
    expect(scripts).toMatch(/postuninstall scriptlet[^\n]*\n[\s\S]*mark-reload-system-units iid-docker-auth\.service/)
  })

  it('rpmlint: no complaint but those explained above', () => {
    const run = isolated('rpmlint', file)
    const complaints = [...run.stdout.matchAll(/^iid-docker-auth\.x86_64: [EW]: (\S+)/gm)].map((m) => m[1]!)
    expect(complaints.length, run.stdout + run.stderr).toBeGreaterThan(0)
    expect(
      complaints.filter((c) => !explained.has(c)),
      run.stdout,
    ).toEqual([])
  })

  describe.runIf(haveOrCi('debootstrap'))('installed with rpm --root', () => {
    let work: string
    let overlay: { root: string; unmount(): void } | undefined
    afterAll(() => {
      overlay?.unmount()
      if (work !== undefined) rmSync(work, { recursive: true, force: true })
    })
    it('places the files, enables the unit by its preset, keeps a changed settings file and config.json', () => {
      work = mkdtempSync(join(tmpdir(), 'iid-rpm-root-'))
      overlay = overlayRoot(ensureDebianTree(), work)
      const root = overlay.root
      const inRoot = ['--root', root, '--dbpath', '/var/lib/rpm']
      const links = () =>
        ['multi-user.target', 'docker.service'].filter(
          (t) => lstatSync(join(root, 'etc/systemd/system', `${t}.wants/iid-docker-auth.service`), { throwIfNoEntry: false }) !== undefined,
        )
      const config = '{"auths":{"pierone.example.com":{"auth":"dTpw"}}}\n'
      mkdirSync(join(root, 'root/.docker'), { recursive: true })
      writeFileSync(join(root, 'root/.docker/config.json'), config)

      // --nodeps: the tree's libraries belong to dpkg, which rpm's database does not know.
      rpm(...inRoot, '--nodeps', '-i', file)
      expect(rpm(...inRoot, '-q', 'iid-docker-auth').trim()).toBe(`iid-docker-auth-${version}-1.x86_64`)
      expect(execFileSync(join(root, 'usr/bin/iid-docker-auth'), ['--version']).toString()).toMatch(
        new RegExp(`^${version.replace(/\./g, '\\.')} \\(single`),
      )
      expect(readFileSync(join(root, 'usr/lib/systemd/system/iid-docker-auth.service'), 'utf8')).toContain(
        'ExecStart=/usr/bin/iid-docker-auth write',
      )
      // %post ran: systemctl preset, reading the package's preset, enabled the unit.
      expect(links()).toEqual(['multi-user.target', 'docker.service'])

      // A reinstall (an upgrade's scriptlets, $1 = 2) keeps the admin's settings and their choice to disable.
      const settings = join(root, 'etc/default/iid-docker-auth')
      writeFileSync(settings, `${readFileSync(settings, 'utf8')}IID_DOCKER_AUTH_REGISTRIES=pierone.example.com\n`)
      const edited = readFileSync(settings, 'utf8')
      execFileSync('chroot', [root, 'systemctl', 'disable', 'iid-docker-auth.service'], { stdio: 'ignore' })
      rpm(...inRoot, '--nodeps', '-U', '--replacepkgs', file)
      expect(readFileSync(settings, 'utf8')).toBe(edited)
      expect(links()).toEqual([])

      // Erase: %preun disables; the edited settings are kept as .rpmsave (rpm's rule); config.json stays.
      execFileSync('chroot', [root, 'systemctl', 'enable', 'iid-docker-auth.service'], { stdio: 'ignore' })
      rpm(...inRoot, '-e', 'iid-docker-auth')
      expect(existsSync(join(root, 'usr/bin/iid-docker-auth'))).toBe(false)
      expect(existsSync(join(root, 'usr/share/doc/iid-docker-auth'))).toBe(false)
      expect(links()).toEqual([])
      expect(readFileSync(`${settings}.rpmsave`, 'utf8')).toBe(edited)
      expect(readFileSync(join(root, 'root/.docker/config.json'), 'utf8')).toBe(config)
    }, 300_000)
  })
})
