// docker-credential-iid with real clients: Docker's CLI and skopeo find it on PATH through
// `credHelpers` (no `auths` entry at all) and get into the PKCS7-verifying registry; an
// unconfigured host gets the exact not-found answer and Docker goes on anonymously; IMDS down fails
// the pull with our one line within the deadline; and the whole setup (`install
// --credential-helper`) works for a real docker user with nothing set in their shell. Root only;
// /etc/default is a private bind mount of a temp dir, never this machine's.
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { knownSecrets, knownSignatures } from '../../sim/imds-simulator.js'
import { buildAuth } from '../../src/imds/identity.js'
import { type ProgramRun, haveOrCi, repoRoot, rootOrCi, runCli, runProgram, useSimulator, useTempDir } from '../support/helpers.js'
import { type Registry, seedImage, startRegistry } from '../support/registry.js'

const repository = 'team/app'
const sim = useSimulator()
let registry: Registry
let dir: string
let helperDir: string
const available = haveOrCi('docker-registry', 'skopeo', 'docker', 'openssl', 'unshare', 'setpriv', 'useradd') && rootOrCi
const notFound = 'credentials not found in native keychain'

beforeAll(async () => {
  if (!available) return
  registry = await startRegistry({
    signingCertificates: [sim.certificates.pkcs7, sim.certificates.rsa2048],
    allowedAccounts: ['123456789012'],
  })
  await seedImage(registry, repository)
  // The helper as clients find it: `docker-credential-iid` on PATH, running this package's shim.
  helperDir = mkdtempSync(join(tmpdir(), 'iid-helper-bin-'))
  chmodSync(helperDir, 0o755)
  writeFileSync(
    join(helperDir, 'docker-credential-iid'),
    `#!/bin/sh\nexec ${process.execPath} ${join(repoRoot, 'bin', 'docker-credential-iid.cjs')} "$@"\n`,
    { mode: 0o755 },
  )
}, 60_000)
afterAll(async () => {
  await registry?.close()
  if (helperDir !== undefined) rmSync(helperDir, { recursive: true, force: true })
})
useTempDir('iid-helper-', (d) => {
  dir = d
  chmodSync(d, 0o755) // as /home is: every user may pass through
})

/** Every output of a program run here: checked for secrets after each test. */
const outputs: Array<{ run: ProgramRun; answer: boolean }> = []
afterEach(() => {
  const secrets = knownSecrets().filter((s) => s.length >= 16)
  for (const signature of knownSignatures())
    secrets.push(buildAuth('instance-identity-document', signature, false), ...signature.split('\n').filter((l) => l.length >= 16))
  for (const { run, answer } of outputs.splice(0)) {
    for (const secret of secrets) {
      expect(run.stderr.includes(secret), 'a secret on stderr').toBe(false)
      // Only get's answer carries the PKCS7, on stdout.
      if (!answer) expect(run.stdout.includes(secret), 'a secret on stdout').toBe(false)
    }
  }
})

const image = () => `${registry.host}/${repository}:latest`
const path = () => `${helperDir}:${process.env['PATH']}`
/** These runs get no environment of ours (test/setup.ts): the simulator stands in for EC2 on any hardware. */
const simulatedEc2 = { IID_DOCKER_AUTH_PLATFORM: 'ec2' }
const helperConfig = (configDir: string) => {
  mkdirSync(configDir, { recursive: true, mode: 0o700 })
  writeFileSync(join(configDir, 'config.json'), JSON.stringify({ credHelpers: { [registry.host]: 'iid' } }), { mode: 0o600 })
}

async function dockerInspect(configDir: string, env: Record<string, string>) {
  const run = await runProgram('docker', ['--config', configDir, 'manifest', 'inspect', '--insecure', image()], {
    env: { PATH: path(), ...simulatedEc2, HOME: dir, DOCKER_HOST: 'unix:///nonexistent.sock', ...env },
  })
  outputs.push({ run, answer: false })
  return run
}

/** The helper itself, with the server string on stdin as clients send it (no newline). */
async function helperGet(server: string, env: Record<string, string>) {
  const result = await execa(join(helperDir, 'docker-credential-iid'), ['get'], {
    input: server,
    env: { PATH: path(), ...simulatedEc2, ...env },
    extendEnv: false,
    reject: false,
    stripFinalNewline: false,
    timeout: 30_000,
  })
  const run: ProgramRun = { status: result.exitCode ?? null, signal: null, stdout: result.stdout, stderr: result.stderr }
  outputs.push({ run, answer: run.status === 0 })
  return run
}

/** Runs a command with this test's temp dir bind-mounted over /etc/default, privately. */
const inPrivateEtcDefault = (etcDefault: string): string[] => [
  'unshare',
  '-m',
  '--propagation',
  'private',
  'sh',
  '-c',
  'mount --bind "$0" /etc/default && exec "$@"',
  etcDefault,
]

describe.runIf(available)('docker-credential-iid with real clients', () => {
  const configured = () => ({ IID_DOCKER_AUTH_REGISTRIES: registry.host, IID_DOCKER_AUTH_ENDPOINT: sim.url })

  it('Docker’s CLI gets the manifest through the helper alone (credHelpers, no auths entry)', async () => {
    const configDir = join(dir, 'docker')
    helperConfig(configDir)
    const inspect = await dockerInspect(configDir, configured())
    expect(inspect.stderr).toBe('')
    expect(inspect.status).toBe(0)
    expect(JSON.parse(inspect.stdout)).toMatchObject({ schemaVersion: 2 })
    expect(registry.decisions.at(-1)).toEqual({ user: 'instance-identity-document', granted: true, reason: 'ok' })
    expect(JSON.parse(readFileSync(join(configDir, 'config.json'), 'utf8'))).toEqual({ credHelpers: { [registry.host]: 'iid' } })

    // The answer itself: the PKCS7 as IMDS served it, on stdout only.
    const get = await helperGet(registry.host, configured())
    expect(get.status, get.stderr).toBe(0)
    expect(JSON.parse(get.stdout)).toEqual({ ServerURL: registry.host, Username: 'instance-identity-document', Secret: sim.pkcs7 })
    expect(get.stderr).toBe('')
  })

  it('skopeo (containers/image) gets the image through the helper alone', async () => {
    const home = join(dir, 'root')
    helperConfig(join(home, '.docker'))
    const runtime = mkdtempSync(join(tmpdir(), 'iid-xdg-'))
    try {
      const run = await runProgram(
        'unshare',
        [
          '-m',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount --bind "$0" /root && exec "$@"',
          home,
          'skopeo',
          'inspect',
          '--tls-verify=false',
          `docker://${image()}`,
        ],
        {
          env: { PATH: path(), ...simulatedEc2, HOME: '/root', XDG_RUNTIME_DIR: runtime, ...configured() },
        },
      )
      outputs.push({ run, answer: false })
      expect(run.stderr).toBe('')
      expect(run.status).toBe(0)
      expect(registry.decisions.at(-1)).toMatchObject({ user: 'instance-identity-document', granted: true })
    } finally {
      rmSync(runtime, { recursive: true, force: true })
    }
  })

  it('a host nobody configured: exactly the not-found text, exit 1, and Docker goes on anonymously to the registry’s 401', async () => {
    const other = { IID_DOCKER_AUTH_REGISTRIES: 'pierone.example.com', IID_DOCKER_AUTH_ENDPOINT: sim.url }
    const get = await helperGet(registry.host, other)
    expect(get).toMatchObject({ status: 1, stdout: `${notFound}\n`, stderr: '' })
    expect((await helperGet('https://index.docker.io/v1/', other)).stdout).toBe(`${notFound}\n`)
    expect(sim.requests).toEqual([])

    const configDir = join(dir, 'docker')
    helperConfig(configDir)
    const inspect = await dockerInspect(configDir, other)
    expect(inspect.status).not.toBe(0)
    expect(inspect.stderr).toMatch(/unauthorized|authentication required/i)
    expect(inspect.stderr).not.toMatch(/docker-credential-iid|error getting credentials|keychain/i)
    expect(sim.requests).toEqual([])
  })

  it('IMDS down: docker pull fails with our one line and its fix, within the deadline', async () => {
    // No daemon here: the CLI asks the helper before it contacts one, so our line comes first.
    const configDir = join(dir, 'docker')
    helperConfig(configDir)
    const started = Date.now()
    const run = await runProgram('docker', ['--config', configDir, 'pull', image()], {
      env: {
        PATH: path(),
        ...simulatedEc2,
        HOME: dir,
        DOCKER_HOST: 'unix:///nonexistent.sock',
        IID_DOCKER_AUTH_REGISTRIES: registry.host,
        IID_DOCKER_AUTH_ENDPOINT: 'http://127.0.0.1:9',
        IID_DOCKER_AUTH_TIMEOUT: '2',
      },
    })
    outputs.push({ run, answer: false })
    expect(Date.now() - started).toBeLessThan(2000 + 3000)
    expect(run.status).not.toBe(0)
    const ours = run.stderr.split('\n').filter((l) => l.includes('docker-credential-iid'))
    expect(ours).toHaveLength(1)
    expect(ours[0]).toMatch(
      new RegExp(
        `^docker-credential-iid: error: no credential for ${registry.host.replace(/\./g, '\\.')}: IMDS at http://127\\.0\\.0\\.1:9/ did not give the identity within 2 s: .*; fix: `,
      ),
    )
    expect(run.stderr).not.toContain(notFound)
  })

  it('IMDS down under docker manifest inspect: each time Docker asks, one line of ours, and never "not found"', async () => {
    // manifest inspect asks once per request it makes and goes on without credentials; each ask keeps the deadline.
    const configDir = join(dir, 'docker')
    helperConfig(configDir)
    const inspect = await dockerInspect(configDir, {
      IID_DOCKER_AUTH_REGISTRIES: registry.host,
      IID_DOCKER_AUTH_ENDPOINT: 'http://127.0.0.1:9',
      IID_DOCKER_AUTH_TIMEOUT: '1',
    })
    expect(inspect.status).not.toBe(0)
    const lines = inspect.stderr.split('\n').filter((l) => l.includes('docker-credential-iid'))
    expect(lines.length).toBeGreaterThan(0)
    for (const line of lines) expect(line).toMatch(/^docker-credential-iid: error: no credential for .*within 1 s: .*; fix: /)
    expect(inspect.stderr).not.toContain(notFound)
  })
})

describe.runIf(available)('install --credential-helper for a real docker user', () => {
  const accounts: string[] = []
  afterAll(() => {
    for (const name of accounts) execFileSync('userdel', [name])
  })

  it('the user, with nothing set in their shell, gets the manifest; the settings they read are 0644 and hold no secret', async () => {
    const name = `iidh${process.pid % 10000}${Math.floor(Math.random() * 1000)}`
    execFileSync('useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', name])
    accounts.push(name)
    const uid = Number(execFileSync('id', ['-u', name]).toString())
    const gid = Number(execFileSync('id', ['-g', name]).toString())
    const home = join(dir, name)
    mkdirSync(home, { mode: 0o700 })
    chownSync(home, uid, gid)
    const etcDefault = join(dir, 'etc-default')
    mkdirSync(etcDefault, { mode: 0o755 })
    const config = join(home, '.docker', 'config.json')

    const install = await runCli(
      ['install', '--credential-helper', '--registry', registry.host, '--config', config, '--endpoint', sim.url],
      { prefix: inPrivateEtcDefault(etcDefault), env: { PATH: path() } },
    )
    expect(install.code, install.stderr).toBe(0)
    expect(install.stderr).not.toMatch(/systemctl/)
    expect(JSON.parse(readFileSync(config, 'utf8'))).toEqual({ credHelpers: { [registry.host]: 'iid' } })
    expect(statSync(config)).toMatchObject({ uid, gid })
    const envFile = join(etcDefault, 'iid-docker-auth')
    expect(statSync(envFile).mode & 0o777).toBe(0o644)
    const settings = readFileSync(envFile, 'utf8')
    expect(settings).toContain(`IID_DOCKER_AUTH_REGISTRIES=${registry.host}`)
    for (const line of sim.pkcs7.split('\n')) expect(settings).not.toContain(line)

    // As the user: only PATH and HOME, no IID_DOCKER_AUTH_* and no IMDS endpoint in their environment.
    const before = registry.decisions.length
    const run = await runProgram(
      inPrivateEtcDefault(etcDefault)[0]!,
      [
        ...inPrivateEtcDefault(etcDefault).slice(1),
        'setpriv',
        '--reuid',
        String(uid),
        '--regid',
        String(gid),
        '--init-groups',
        'docker',
        'manifest',
        'inspect',
        '--insecure',
        image(),
      ],
      {
        env: { PATH: path(), ...simulatedEc2, HOME: home, DOCKER_HOST: 'unix:///nonexistent.sock' },
      },
    )
    outputs.push({ run, answer: false })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    expect(registry.decisions.slice(before)).toContainEqual({ user: 'instance-identity-document', granted: true, reason: 'ok' })

    // remove undoes it: the mapping goes, the file stays the user's.
    const remove = await runCli(['remove', '--registry', registry.host, '--config', config])
    expect(remove.code, remove.stderr).toBe(0)
    expect(JSON.parse(readFileSync(config, 'utf8'))).toEqual({})
  })
})
