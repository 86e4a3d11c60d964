// What the nspawn boot tests share: a cached minimal Debian tree, an overlay over it per boot, the
// network namespace that holds 169.254.169.254 on its loopback (no packet leaves it), TCP relays
// into that namespace, and a boot under systemd-nspawn that must power itself off.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { type Server, type Socket, connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { repoRoot } from './helpers.js'

export const cacheRoot = process.env['IID_TEST_CACHE'] ?? '/var/tmp/iid-docker-auth-test'

/** The release this machine runs, and the mirror its apt uses (never a hard-coded host). */
function debianSource(): { suite: string; mirror: string } {
  const suite = /^VERSION_CODENAME=(.+)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1]?.trim()
  const texts: string[] = []
  for (const dir of ['/etc/apt/sources.list.d']) {
    if (existsSync(dir))
      for (const f of readdirSync(dir)) if (f.endsWith('.sources') || f.endsWith('.list')) texts.push(readFileSync(join(dir, f), 'utf8'))
  }
  if (existsSync('/etc/apt/sources.list')) texts.push(readFileSync('/etc/apt/sources.list', 'utf8'))
  for (const text of texts) {
    const deb822 = /^URIs:\s*(\S+)/m.exec(text)
    if (deb822 && !deb822[1]!.includes('security')) return { suite: suite!, mirror: deb822[1]! }
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+\s+main/m.exec(text)
    if (line && !line[1]!.includes('security')) return { suite: suite!, mirror: line[1]! }
  }
  throw new Error('no Debian mirror found in the apt sources')
}

/** A minimal bootable Debian tree with no Node.js, built once and reused (about 35 s the first time). */
export function ensureDebianTree(): string {
  const { suite, mirror } = debianSource()
  // libatomic1: Node 26's binary (bound in from the host) links it; minbase lacks it.
  const packages = ['systemd', 'systemd-sysv', 'dbus', 'libatomic1']
  const tree = join(cacheRoot, `${suite}-minbase-${packages.join('-')}`)
  if (existsSync(join(tree, '.complete'))) return tree
  mkdirSync(cacheRoot, { recursive: true })
  const building = `${tree}.building-${process.pid}`
  rmSync(building, { recursive: true, force: true })
  execFileSync('debootstrap', ['--variant=minbase', `--include=${packages.join(',')}`, suite, building, mirror], {
    stdio: 'ignore',
    timeout: 600_000,
  })
  writeFileSync(join(building, '.complete'), '')
  rmSync(tree, { recursive: true, force: true })
  renameSync(building, tree)
  return tree
}

/** A writable overlay over `tree` at <work>/root, so a test changes nothing in the cached tree. */
export function overlayRoot(tree: string, work: string): { root: string; unmount(): void } {
  const [upper, overlayWork, root] = ['upper', 'work', 'root'].map((d) => join(work, d)) as [string, string, string]
  for (const d of [upper, overlayWork, root]) mkdirSync(d)
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${tree},upperdir=${upper},workdir=${overlayWork}`, root])
  return { root, unmount: () => execFileSync('umount', [root]) }
}

/** A unit in the tree's /etc/systemd/system, enabled for `wantedBy`. */
export const unitFile = (dir: string, name: string, text: string, wantedBy = 'multi-user.target'): void => {
  writeFileSync(join(dir, 'etc/systemd/system', name), text)
  mkdirSync(join(dir, 'etc/systemd/system', `${wantedBy}.wants`), { recursive: true })
  symlinkSync(`/etc/systemd/system/${name}`, join(dir, 'etc/systemd/system', `${wantedBy}.wants`, name))
}

/**
 * A docker.service stand-in, ordered after our unit by its Before=: it records in /results whether
 * root's config.json held the registry's entry when it started, then runs `more` (shell).
 */
export const dockerStandIn = (root: string, more = ''): void =>
  unitFile(
    root,
    'docker.service',
    `[Unit]
Description=docker stand-in: records whether the credential is there when it starts
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'if grep -q "\\"pierone.example.com\\"" /root/.docker/config.json 2>/dev/null; then echo present; else echo absent; fi > /results/docker-saw-entry${more}'
`,
  )

/** Resolves with the first line of the child's stdout that starts with `prefix`. */
export function waitForLine(child: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = ''
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString()
      const line = buffer.split('\n').find((l) => l.startsWith(prefix))
      if (line !== undefined) resolve(line)
    })
    child.on('exit', (code) => reject(new Error(`${child.spawnargs.join(' ')} exited with ${code} before it was ready`)))
  })
}

/** A network namespace with only a loopback, holding 169.254.169.254 as EC2's link-local IMDS address. */
export function imdsNamespace(): { name: string; remove(): void } {
  const name = `iid-boot-${process.pid}-${Math.floor(Math.random() * 1e6)}`
  execFileSync('ip', ['netns', 'add', name])
  try {
    execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up'])
    execFileSync('ip', ['-n', name, 'addr', 'add', '169.254.169.254/32', 'dev', 'lo'])
  } catch (error) {
    execFileSync('ip', ['netns', 'del', name])
    throw error
  }
  return { name, remove: () => execFileSync('ip', ['netns', 'del', name]) }
}

export interface Relay {
  /** Where a client inside the namespace connects. */
  readonly inside: { readonly host: string; readonly port: number }
  /** The port of the server on this machine's loopback it reaches. */
  readonly port: number
}

/**
 * Relays TCP from addresses inside the namespace to servers on this machine's loopback, through
 * unix sockets (which cross network namespaces): no interface joins the two, nothing leaves either.
 */
export async function relayInto(namespace: string, relays: readonly Relay[]): Promise<{ close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'iid-relay-'))
  const sockets: Socket[] = []
  const servers: Server[] = relays.map((relay, i) => {
    const server = createServer((client) => {
      const upstream = connect(relay.port, '127.0.0.1')
      sockets.push(client, upstream)
      client.pipe(upstream).pipe(client)
      for (const s of [client, upstream]) s.on('error', () => [client, upstream].forEach((x) => x.destroy()))
    })
    server.listen(join(dir, `${i}.sock`))
    return server
  })
  const spec = relays.map((r, i) => ({ host: r.inside.host, port: r.inside.port, socket: join(dir, `${i}.sock`) }))
  const inside = spawn(
    'ip',
    ['netns', 'exec', namespace, process.execPath, join(repoRoot, 'test', 'support', 'relay-inside.cjs'), JSON.stringify(spec)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  await waitForLine(inside, 'relaying')
  return {
    close: async () => {
      inside.kill('SIGKILL')
      for (const s of sockets) s.destroy()
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Boots the tree at `root` in the namespace and waits until it powers off (a service of the test
 * must run `systemctl poweroff`); SIGTERM, then SIGKILL, if it does not. Returns the console output.
 */
export async function bootContainer(root: string, namespace: string, args: readonly string[]): Promise<string> {
  const nspawn = spawn(
    'systemd-nspawn',
    ['--quiet', '--keep-unit', '--register=no', `--network-namespace-path=/run/netns/${namespace}`, '-D', root, ...args, '--boot'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  nspawn.stdout!.on('data', (d: Buffer) => (output += d.toString()))
  nspawn.stderr!.on('data', (d: Buffer) => (output += d.toString()))
  // SIGTERM makes nspawn shut the container down (a SIGKILL alone would leave its systemd running).
  const killer = setTimeout(() => {
    nspawn.kill('SIGTERM')
    setTimeout(() => nspawn.kill('SIGKILL'), 20_000).unref()
  }, 120_000)
  await new Promise((resolve) => nspawn.on('exit', resolve))
  clearTimeout(killer)
  return output
}

/** The booted tree's journal, as `journalctl -o cat` with these filters prints it. */
export const journal = (root: string, ...filters: string[]): string =>
  execFileSync('journalctl', ['-D', join(root, 'var/log/journal'), '--no-pager', '-o', 'cat', ...filters]).toString()
