// A failure in one config file ends that file's write, never the whole run, and leaves no copy of
// the credential behind: Node refusing to switch users (UV_USE_IO_URING=1), a directory that
// forbids removal (chattr +a). Real accounts, real attributes, the built CLI. Root only.
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { haveOrCi, rootOrCi, runCli, runProgram, useSimulator, useTempDir } from '../support/helpers.js'

const sim = useSimulator()
let dir: string
useTempDir('iid-per-file-', (d) => {
  dir = d
  chmodSync(d, 0o755)
})

const write = (configs: string[], env: NodeJS.ProcessEnv = {}) =>
  runCli(['--registry', 'pierone.example.com', ...configs.flatMap((c) => ['--config', c]), '--endpoint', sim.url, '--timeout', '5'], {
    env: { IID_DOCKER_AUTH_LOCK_TIMEOUT: '3', ...env },
  })

describe.runIf(rootOrCi && haveOrCi('useradd', 'chattr'))('one file fails, the others are written', () => {
  const name = `iidf${process.pid % 10000}${Math.floor(Math.random() * 1000)}`
  let uid: number
  let gid: number
  let appendOnly: string | undefined
  beforeAll(() => {
    execFileSync('useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', name])
    uid = Number(execFileSync('id', ['-u', name]).toString())
    gid = Number(execFileSync('id', ['-g', name]).toString())
  })
  afterAll(() => execFileSync('userdel', [name]))
  afterEach(() => {
    if (appendOnly !== undefined) execFileSync('chattr', ['-a', appendOnly])
    appendOnly = undefined
  })

  it("UV_USE_IO_URING=1: where Node refuses to switch users, the user's file gets 73 saying what to unset; root's own is written", async () => {
    // Node 20 refuses setuid and its kin while io_uring may be on; later releases may not.
    const probe = await runProgram(process.execPath, ['-e', 'process.setegid(process.getegid())'], {
      env: { ...process.env, UV_USE_IO_URING: '1' },
    })
    const refused = probe.stderr.includes('ERR_INVALID_STATE')
    const home = join(dir, 'home')
    mkdirSync(home, { mode: 0o700 })
    chownSync(home, uid, gid)
    const users = join(home, 'config.json')
    const roots = join(dir, 'root-docker', 'config.json')
    const run = await write([users, roots], { UV_USE_IO_URING: '1' })
    expect(run.stderr).not.toMatch(/unexpected error/)
    expect(Object.keys(JSON.parse(readFileSync(roots, 'utf8')).auths)).toEqual(['pierone.example.com'])
    if (refused) {
      expect(run.code, run.stderr).toBe(73)
      expect(run.stderr).toContain(`cannot take the rights of ${name}`)
      expect(run.stderr).toMatch(/fix: unset UV_USE_IO_URING/)
      expect(readdirSync(home)).toEqual([])
    } else {
      expect(run.code, run.stderr).toBe(0)
      expect(statSync(users).uid).toBe(uid)
    }
  })

  it('an append-only directory (chattr +a): 73 naming the cause, and no file left holding the credential', async () => {
    const docker = join(dir, 'docker')
    mkdirSync(docker, { mode: 0o700 })
    execFileSync('chattr', ['+a', docker])
    appendOnly = docker
    const config = join(docker, 'config.json')
    const run = await write([config])
    expect(run.code, run.stderr).toBe(73)
    expect(run.stderr).toMatch(/append-only/)
    for (const name of readdirSync(docker)) {
      if (name.endsWith('.tmp')) expect(statSync(join(docker, name)).size, `${name} holds data`).toBe(0)
      expect(readFileSync(join(docker, name), 'utf8')).not.toContain('auth')
    }
  })
})
