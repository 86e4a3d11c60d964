// A docker user's own config (~ec2-user/.docker/config.json), written by root: with that user's
// rights, so the file stays theirs and a path they control never gets root's power. Real
// accounts (useradd), real files, the built CLI. Root only; under CI=true it runs or fails.
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliPath, haveOrCi, rootOrCi, runCli, runProgram, useSimulator, useTempDir } from '../support/helpers.js'

const sim = useSimulator()
let dir: string
useTempDir('iid-users-', (d) => {
  dir = d
  chmodSync(d, 0o755) // as /home is: every user may pass through
})

interface Account {
  readonly name: string
  readonly uid: number
  readonly gid: number
}
const accounts: Account[] = []

/** A real account (no home created: each test makes the home it needs). */
function addAccount(): Account {
  const name = `iidu${process.pid % 10000}${accounts.length}${Math.floor(Math.random() * 1000)}`
  execFileSync('useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', name])
  const account = {
    name,
    uid: Number(execFileSync('id', ['-u', name]).toString()),
    gid: Number(execFileSync('id', ['-g', name]).toString()),
  }
  accounts.push(account)
  return account
}

function home(account: Account, mode = 0o700): string {
  const path = join(dir, account.name)
  mkdirSync(path)
  chownSync(path, account.uid, account.gid)
  chmodSync(path, mode)
  return path
}

const write = (config: string, args: string[] = []) =>
  runCli(['--registry', 'pierone.example.com', '--config', config, '--endpoint', sim.url, '--timeout', '5', ...args], {
    env: { IID_DOCKER_AUTH_LOCK_TIMEOUT: '2' },
  })

/** What the user, not root, reads at that path. */
const readAs = async (account: Account, path: string) => {
  const run = await runProgram('setpriv', ['--reuid', String(account.uid), '--regid', String(account.gid), '--init-groups', 'cat', path])
  expect(run.status, run.stderr).toBe(0)
  return JSON.parse(run.stdout) as { auths: Record<string, unknown> }
}

const owner = (path: string) => {
  const s = statSync(path)
  return { uid: s.uid, gid: s.gid, mode: (s.mode & 0o777).toString(8) }
}

describe.runIf(rootOrCi && haveOrCi('useradd', 'setpriv'))("a docker user's own config, written by root", () => {
  let alice: Account
  let bob: Account
  beforeAll(() => {
    alice = addAccount()
    bob = addAccount()
  })
  afterAll(() => {
    for (const a of accounts) execFileSync('userdel', [a.name])
  })

  it('a fresh account with no ~/.docker: the directory and file are the user’s, 0700 and 0600, and the user reads the entry', async () => {
    const config = join(home(alice), '.docker', 'config.json')
    const run = await write(config)
    expect(run.code, run.stderr).toBe(0)
    expect(owner(join(dir, alice.name, '.docker'))).toEqual({ uid: alice.uid, gid: alice.gid, mode: '700' })
    expect(owner(config)).toEqual({ uid: alice.uid, gid: alice.gid, mode: '600' })
    expect(Object.keys((await readAs(alice, config)).auths)).toEqual(['pierone.example.com'])
    expect(readdirSync(join(dir, alice.name, '.docker'))).toEqual(['config.json'])
  })

  it('an existing 0600 config with another entry: kept, with its owner and mode, and the user reads both entries', async () => {
    const docker = join(home(alice), '.docker')
    mkdirSync(docker, { mode: 0o700 })
    chownSync(docker, alice.uid, alice.gid)
    const config = join(docker, 'config.json')
    writeFileSync(config, '{\n\t"auths": {\n\t\t"other.example.com": {\n\t\t\t"auth": "dTpw"\n\t\t}\n\t}\n}\n', { mode: 0o600 })
    chownSync(config, alice.uid, alice.gid)
    const run = await write(config)
    expect(run.code, run.stderr).toBe(0)
    expect(owner(config)).toEqual({ uid: alice.uid, gid: alice.gid, mode: '600' })
    expect(Object.keys((await readAs(alice, config)).auths)).toEqual(['other.example.com', 'pierone.example.com'])
  })

  it('a user’s config.json symlinked to a root-owned file: refused with 73, the target byte-identical', async () => {
    const etc = join(dir, 'etc-docker')
    mkdirSync(etc, { mode: 0o755 })
    const daemonJson = join(etc, 'daemon.json')
    writeFileSync(daemonJson, '{"log-driver": "journald"}\n', { mode: 0o644 })
    const before = readFileSync(daemonJson)
    const docker = join(home(alice), '.docker')
    mkdirSync(docker, { mode: 0o700 })
    chownSync(docker, alice.uid, alice.gid)
    symlinkSync(daemonJson, join(docker, 'config.json'))
    const run = await write(join(docker, 'config.json'))
    expect(run.code, run.stderr).toBe(73)
    expect(run.stderr).toMatch(new RegExp(`error: cannot write .*: permission denied.*rights of ${alice.name}`))
    expect(run.stderr).toMatch(/fix: /)
    expect(readFileSync(daemonJson)).toEqual(before)
    expect(readdirSync(etc)).toEqual(['daemon.json'])
  })

  it('a directory of the user inside root’s path, and a path through two users’ directories: their rights, or refused', async () => {
    // root-owned directory inside alice's home: alice cannot write there, so neither does the tool.
    const locked = join(home(alice, 0o755), 'locked')
    mkdirSync(locked, { mode: 0o755 })
    const lockedRun = await write(join(locked, 'config.json'))
    expect(lockedRun.code, lockedRun.stderr).toBe(73)
    expect(existsSync(join(locked, 'config.json'))).toBe(false)
    // bob's directory inside alice's home.
    const bobs = join(dir, alice.name, 'bobs')
    mkdirSync(bobs, { mode: 0o755 })
    chownSync(bobs, bob.uid, bob.gid)
    const run = await write(join(bobs, 'config.json'))
    expect(run.code, run.stderr).toBe(73)
    expect(run.stderr).toMatch(/belong to different users/)
    expect(readdirSync(bobs)).toEqual([])
  })

  it('a directory every user may write: refused unless sticky with the named entry root’s', async () => {
    const open = join(dir, 'open')
    mkdirSync(open)
    chmodSync(open, 0o777)
    const run = await write(join(open, 'docker', 'config.json'))
    expect(run.code, run.stderr).toBe(73)
    expect(run.stderr).toMatch(/writable by every user/)
    expect(readdirSync(open)).toEqual([])
    // Sticky (like /tmp): a name in it that another user made is theirs to swap.
    chmodSync(open, 0o1777)
    const planted = join(open, 'planted')
    mkdirSync(planted, { mode: 0o755 })
    chownSync(planted, bob.uid, bob.gid)
    expect((await write(join(planted, 'config.json'))).code).toBe(73)
    expect(readdirSync(planted)).toEqual([])
    // ... but a root-owned directory in it is root's own.
    const rootsOwn = join(open, 'roots')
    mkdirSync(rootsOwn, { mode: 0o700 })
    const ok = await write(join(rootsOwn, 'config.json'))
    expect(ok.code, ok.stderr).toBe(0)
    expect(owner(join(rootsOwn, 'config.json'))).toEqual({ uid: 0, gid: 0, mode: '600' })
  })

  it('a root-owned directory that a group may write: refused, a group member’s symlink in it never followed by root', async () => {
    const shared = join(dir, 'shared-docker')
    mkdirSync(shared, { mode: 0o770 })
    chownSync(shared, 0, alice.gid)
    chmodSync(shared, 0o770)
    const victimDir = join(dir, 'victim')
    mkdirSync(victimDir, { mode: 0o700 })
    const victim = join(victimDir, 'daemon.json')
    writeFileSync(victim, '{"log-driver": "journald"}\n', { mode: 0o600 })
    const before = readFileSync(victim)
    symlinkSync(victim, join(shared, 'config.json'))
    const run = await write(join(shared, 'config.json'))
    expect(run.code, run.stderr).toBe(73)
    expect(run.stderr).toMatch(/is writable by its group/)
    expect(readFileSync(victim)).toEqual(before)
    expect(readdirSync(victimDir)).toEqual(['daemon.json'])
  })

  /** Runs a command as `account`, as that user would from a shell. */
  const runAs = async (account: Account, command: string, args: string[]) => {
    const run = await runProgram('setpriv', [
      '--reuid',
      String(account.uid),
      '--regid',
      String(account.gid),
      '--init-groups',
      command,
      ...args,
    ])
    expect(run.status, run.stderr).toBe(0)
  }

  it('a root-owned directory a user may write through an ACL: their symlink is never followed, live or dangling', async () => {
    const cfg = join(dir, 'acl-docker')
    mkdirSync(cfg, { mode: 0o755 })
    chmodSync(cfg, 0o755)
    execFileSync('setfacl', ['-m', `u:${alice.name}:rwx`, cfg])
    const victimDir = join(dir, 'acl-victim')
    mkdirSync(victimDir, { mode: 0o700 })
    const victim = join(victimDir, 'daemon.json')
    writeFileSync(victim, '{"log-driver": "journald"}\n', { mode: 0o600 })
    const before = readFileSync(victim)
    // `ls -l` shows 775 root:root; the group bits are the ACL's mask, and the directory is not root's alone.
    const empty = await write(join(cfg, 'config.json'))
    expect(empty.code, empty.stderr).toBe(73)
    expect(empty.stderr).toMatch(/acl-docker is writable by its group \(gid 0\) or the users its ACL names/)
    expect(readdirSync(cfg)).toEqual([])
    // The user plants the link as they would: with their own rights.
    await runAs(alice, 'ln', ['-s', victim, join(cfg, 'config.json')])
    const run = await write(join(cfg, 'config.json'))
    expect(run.code, run.stderr).toBe(73)
    expect(run.stderr).toMatch(/belongs to iidu/)
    expect(readFileSync(victim)).toEqual(before)
    expect(readdirSync(victimDir)).toEqual(['daemon.json'])
    // Dangling: nothing is created at the target, nor its directory.
    await runAs(alice, 'ln', ['-sfn', join(victimDir, 'sudoers.d', 'x'), join(cfg, 'config.json')])
    for (const args of [[], ['prepare-dirs']]) {
      const again =
        args.length === 0 ? await write(join(cfg, 'config.json')) : await runCli(['prepare-dirs', '--config', join(cfg, 'config.json')])
      expect(again.code, again.stderr).toBe(73)
      expect(readdirSync(victimDir)).toEqual(['daemon.json'])
    }
    expect(readdirSync(cfg)).toEqual(['config.json'])
  })

  it('a symlink owned by another user is never followed by root, even where that user may not write', async () => {
    const cfg = join(dir, 'chowned-link')
    mkdirSync(cfg, { mode: 0o755 })
    const victim = join(dir, 'chowned-victim.json')
    writeFileSync(victim, '{}\n', { mode: 0o600 })
    symlinkSync(victim, join(cfg, 'config.json'))
    execFileSync('chown', ['-h', `${bob.uid}:${bob.gid}`, join(cfg, 'config.json')])
    const run = await write(join(cfg, 'config.json'))
    expect(run.code, run.stderr).toBe(73)
    expect(run.stderr).toContain(`the symlink ${join(cfg, 'config.json')} on the way to it belongs to ${bob.name}`)
    expect(readFileSync(victim, 'utf8')).toBe('{}\n')
    for (const command of [['check', '--endpoint', sim.url, '--timeout', '2'], ['remove']]) {
      const other = await runCli([...command, '--registry', 'pierone.example.com', '--config', join(cfg, 'config.json')])
      expect(other.stderr).toContain('belongs to')
      expect(readFileSync(victim, 'utf8')).toBe('{}\n')
    }
    // The user's own link in their own directory is theirs to follow: written with their rights.
    const docker = join(home(bob), '.docker')
    await runAs(bob, 'mkdir', ['-m', '700', docker])
    await runAs(bob, 'ln', ['-s', 'real.json', join(docker, 'config.json')])
    const own = await write(join(docker, 'config.json'))
    expect(own.code, own.stderr).toBe(0)
    expect(owner(join(docker, 'real.json'))).toEqual({ uid: bob.uid, gid: bob.gid, mode: '600' })
  })

  it("a user's directory in root's group: handled with the user's own groups, never the directory's", async () => {
    const app = join(dir, 'app')
    mkdirSync(app, { mode: 0o755 })
    chownSync(app, alice.uid, 0)
    const secretDir = join(dir, 'secret')
    mkdirSync(secretDir, { mode: 0o755 })
    const secret = join(secretDir, 's.json')
    writeFileSync(secret, '{"auths":{"TOPSECRET.example":{"auth":"eA=="}}}', { mode: 0o640 })
    await runAs(alice, 'ln', ['-s', secret, join(app, 'config.json')])
    const check = await runCli([
      'check',
      '--registry',
      'pierone.example.com',
      '--config',
      join(app, 'config.json'),
      '--endpoint',
      sim.url,
      '--timeout',
      '2',
    ])
    expect(check.stderr + check.stdout).not.toContain('TOPSECRET')
    expect(check.stderr + check.stdout).toMatch(/permission denied/)
    const run = await write(join(app, 'config.json'))
    expect(run.code, run.stderr).toBe(73)
    expect(readFileSync(secret, 'utf8')).toContain('TOPSECRET')
  })

  it('a user re-pointing their own links while root writes: never exit 1, never a wrong "not a regular file"', async () => {
    const userHome = home(bob, 0o755)
    await runAs(bob, 'mkdir', ['-m', '700', join(userHome, 'real')])
    // A chain of links the user replaces in a loop, as a hostile user would.
    const flip = `
      const fs = require('fs'); const d = ${JSON.stringify(join(userHome, 'ch'))}; fs.mkdirSync(d)
      const link = (i) => { try { fs.symlinkSync(i === 8 ? ${JSON.stringify(join(userHome, 'real'))} : d + '/l' + (i + 1), d + '/l' + i) } catch {} }
      for (let i = 0; i <= 8; i++) link(i)
      fs.symlinkSync(d + '/l0', ${JSON.stringify(join(userHome, '.docker'))})
      const end = Date.now() + 6000
      while (Date.now() < end) for (let i = 1; i <= 8; i++) { try { fs.unlinkSync(d + '/l' + i) } catch {} link(i) }`
    const flipper = runProgram(
      'setpriv',
      ['--reuid', String(bob.uid), '--regid', String(bob.gid), '--init-groups', process.execPath, '-e', flip],
      { timeoutMs: 20_000 },
    )
    await new Promise((resolve) => setTimeout(resolve, 500))
    const codes: number[] = []
    for (let i = 0; i < 25; i++) {
      const run = await write(join(userHome, '.docker', 'config.json'), ['-q'])
      codes.push(run.code ?? -1)
      expect(run.stderr).not.toMatch(/unexpected error|without a path of its own/)
    }
    await flipper
    expect(codes.every((code) => code === 0 || code === 73)).toBe(true)
  })

  it("install --credential-helper follows a user's link with that user's rights only: a root-only target untouched, nothing created", async () => {
    const victimDir = join(dir, 'helper-victim')
    mkdirSync(victimDir, { mode: 0o700 })
    const victim = join(victimDir, 'app.json')
    writeFileSync(victim, '{"rootsecret":"s3cr3t"}\n', { mode: 0o600 })
    const userHome = home(alice)
    await runAs(alice, 'mkdir', ['-m', '700', join(userHome, '.docker')])
    await runAs(alice, 'ln', ['-s', victim, join(userHome, '.docker', 'config.json')])
    await runAs(alice, 'ln', ['-s', join(victimDir, 'created-by-root'), join(userHome, '.docker', 'other.json')])
    // The settings file goes to a private /etc/default, never this machine's.
    const etcDefault = join(dir, 'etc-default')
    mkdirSync(etcDefault)
    for (const name of ['config.json', 'other.json']) {
      const run = await runProgram('unshare', [
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount --bind "$0" /etc/default && exec "$@"',
        etcDefault,
        process.execPath,
        cliPath,
        'install',
        '--credential-helper',
        '--registry',
        'pierone.example.com',
        '--config',
        join(userHome, '.docker', name),
      ])
      expect(run.status, run.stderr).toBe(73)
      expect(run.stderr).toMatch(/permission denied.*rights of iidu/)
    }
    expect(readFileSync(victim, 'utf8')).toBe('{"rootsecret":"s3cr3t"}\n')
    expect(readdirSync(victimDir)).toEqual(['app.json'])
  })

  it('keeps a POSIX ACL on the file it rewrites: a named reader keeps reading, the owning group gets no more', async () => {
    const aclDir = join(dir, 'acl-file')
    mkdirSync(aclDir, { mode: 0o755 })
    const config = join(aclDir, 'config.json')
    writeFileSync(config, '{}\n', { mode: 0o600 })
    chownSync(config, 0, alice.gid)
    execFileSync('setfacl', ['-m', `u:${bob.name}:r`, config])
    const run = await write(config)
    expect(run.code, run.stderr).toBe(0)
    const acl = execFileSync('getfacl', ['-cp', config]).toString()
    expect(acl).toContain(`user:${bob.name}:r--`)
    expect(acl).toContain('group::---')
    expect(Object.keys((await readAs(bob, config)).auths)).toEqual(['pierone.example.com'])
  })

  it("a user's file whose group is not theirs: 73 naming the owner to give it, not an immutable flag", async () => {
    const docker = join(home(alice), '.docker')
    await runAs(alice, 'mkdir', ['-m', '700', docker])
    writeFileSync(join(docker, 'config.json'), '{}\n', { mode: 0o600 })
    chownSync(join(docker, 'config.json'), alice.uid, 0)
    const run = await write(join(docker, 'config.json'))
    expect(run.code, run.stderr).toBe(73)
    expect(run.stderr).toContain(`the owner of the old one (uid ${alice.uid}, gid 0)`)
    expect(run.stderr).not.toContain('immutable')
  })

  it('a home directory that does not exist yet is never created: 73 saying what to do', async () => {
    const config = join(dir, 'no-such-home', '.docker', 'config.json')
    for (const run of [await write(config), await runCli(['prepare-dirs', '--config', config])]) {
      expect(run.code, run.stderr).toBe(73)
      expect(run.stderr).toContain(`${join(dir, 'no-such-home')} does not exist`)
      expect(run.stderr).toMatch(/fix: create .* first \(a home directory: useradd -m/)
    }
    expect(existsSync(join(dir, 'no-such-home'))).toBe(false)
  })

  it('prepare-dirs (the unit, before its sandbox) creates a missing directory for its owner and never changes one that exists', async () => {
    const aliceHome = home(alice)
    const kubelet = join(dir, 'kubelet')
    mkdirSync(kubelet, { mode: 0o751 })
    const run = await runCli([
      'prepare-dirs',
      '--config',
      join(aliceHome, '.docker', 'config.json'),
      '--config',
      join(kubelet, 'config.json'),
      '--config',
      join(dir, 'new-root-dir', 'config.json'),
    ])
    expect(run.code, run.stderr).toBe(0)
    expect(owner(join(aliceHome, '.docker'))).toEqual({ uid: alice.uid, gid: alice.gid, mode: '700' })
    expect(owner(kubelet)).toEqual({ uid: 0, gid: 0, mode: '751' })
    expect(owner(join(dir, 'new-root-dir'))).toEqual({ uid: 0, gid: 0, mode: '700' })
    expect(owner(aliceHome)).toEqual({ uid: alice.uid, gid: alice.gid, mode: '700' })
    expect(run.stderr).toContain(`created ${join(aliceHome, '.docker')}`)
  })
})
