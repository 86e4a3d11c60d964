// Round trip through clients nobody here wrote: the tool writes config.json from the IMDS
// simulator, then Docker's CLI and skopeo must get into a real registry (distribution 2.8, token
// auth) with nothing but that file, and must be refused when the signature is tampered with or the
// account is not allowed. Also: Docker's own writer and ours keep each other's changes.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startImdsSimulator } from '../../sim/imds-simulator.js'
import { haveOrCi, rootOrCi, runCli, runProgram, useSimulator, useTempDir } from '../support/helpers.js'
import { type Registry, seedImage, startRegistry } from '../support/registry.js'

const repository = 'team/app'
const sim = useSimulator()
let registry: Registry
let dir: string

const available = haveOrCi('docker-registry', 'skopeo', 'docker', 'openssl') && rootOrCi

beforeAll(async () => {
  if (!available) return
  registry = await startRegistry({
    signingCertificates: [sim.certificates.pkcs7, sim.certificates.rsa2048],
    allowedAccounts: ['123456789012'],
  })
  await seedImage(registry, repository)
}, 60_000)
afterAll(async () => {
  await registry?.close()
})
useTempDir('iid-roundtrip-', (d) => (dir = d))

const image = () => `${registry.host}/${repository}:latest`

/** Docker's CLI, with only the given config directory (no daemon needed for manifest inspect). */
function dockerInspect(configDir: string) {
  return runProgram('docker', ['--config', configDir, 'manifest', 'inspect', '--insecure', image()], {
    env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent.sock' },
  })
}

/**
 * skopeo reading root's ~/.docker/config.json, as podman and buildah do: in a private mount
 * namespace whose /root is `home`, so the machine's own /root is never read or written.
 */
async function skopeoInspect(home: string) {
  const runtime = mkdtempSync(join(tmpdir(), 'iid-xdg-'))
  try {
    return await runProgram(
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
        env: { PATH: process.env['PATH'], HOME: '/root', XDG_RUNTIME_DIR: runtime },
      },
    )
  } finally {
    rmSync(runtime, { recursive: true, force: true })
  }
}

const writeFor = async (endpoint: string, config: string, ...args: string[]) => {
  const run = await runCli(['--registry', registry.host, '--config', config, '--endpoint', endpoint, '--timeout', '10', ...args])
  expect(run.code, run.stderr).toBe(0)
  return run
}

describe.runIf(available)('real clients against a real registry', () => {
  it('Docker’s CLI pulls the manifest with the written config alone, and is refused without it', async () => {
    const configDir = join(dir, 'docker')
    const refused = await dockerInspect(configDir)
    expect(refused.status).not.toBe(0)
    expect(refused.stderr).toMatch(/unauthorized|authentication required|no basic auth credentials/i)

    await writeFor(sim.url, join(configDir, 'config.json'))
    const inspect = await dockerInspect(configDir)
    expect(inspect.stderr).toBe('')
    expect(inspect.status).toBe(0)
    expect(JSON.parse(inspect.stdout)).toMatchObject({
      schemaVersion: 2,
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }],
    })
    expect(registry.decisions.at(-1)).toEqual({ user: 'instance-identity-document', granted: true, reason: 'ok' })
  })

  it('skopeo inspects the image reading root’s ~/.docker/config.json', async () => {
    const home = join(dir, 'root')
    mkdirSync(home, { mode: 0o700 })
    const denied = await skopeoInspect(home)
    expect(denied.status).not.toBe(0)

    await writeFor(sim.url, join(home, '.docker', 'config.json'))
    const inspect = await skopeoInspect(home)
    expect(inspect.stderr).toBe('')
    expect(inspect.status).toBe(0)
    expect(JSON.parse(inspect.stdout)).toMatchObject({
      Name: `${registry.host}/${repository}`,
      Layers: [expect.stringMatching(/^sha256:/)],
    })
  })

  it('both clients get in with a file whose credentials sit under "auths" and "AUTHS", which Go merges', async () => {
    // Docker and skopeo load this file (Go matches keys in any case, the later object winning), so it
    // is not refused: the entry goes into "AUTHS", replacing a stale login there that they would use.
    const home = join(dir, 'root')
    const config = join(home, '.docker', 'config.json')
    mkdirSync(join(home, '.docker'), { recursive: true, mode: 0o700 })
    const stale = { auth: Buffer.from('robot:stale').toString('base64') }
    writeFileSync(config, JSON.stringify({ auths: {}, AUTHS: { [registry.host]: stale } }), { mode: 0o600 })
    await writeFor(sim.url, config)
    expect(Object.keys(JSON.parse(readFileSync(config, 'utf8')))).toEqual(['auths', 'AUTHS'])
    expect((await dockerInspect(join(home, '.docker'))).status).toBe(0)
    const inspect = await skopeoInspect(home)
    expect(inspect.stderr).toBe('')
    expect(inspect.status).toBe(0)
  })

  it.each([
    ['the PKCS7 on one line (--strip-newlines)', ['--strip-newlines']],
    ['the rsa2048 signature', ['--signature', 'rsa2048']],
  ])('works with %s', async (_, args) => {
    const configDir = join(dir, 'docker')
    await writeFor(sim.url, join(configDir, 'config.json'), ...args)
    expect((await dockerInspect(configDir)).status).toBe(0)
  })

  it('both clients are refused when the PKCS7 was tampered with', async () => {
    // Change one byte of the signed message digest: the structure and the embedded document stay
    // intact, so the tool takes it (it checks structure, not signatures), and only a verifier can tell.
    // (A tampered embedded document is refused by the tool itself: see cli.e2e.)
    const der = Buffer.from(sim.pkcs7.replace(/\n/g, ''), 'base64')
    const messageDigestOid = Buffer.from('06092a864886f70d010904', 'hex')
    const at = der.indexOf(messageDigestOid)
    expect(at).toBeGreaterThan(0)
    const digest = at + messageDigestOid.length + 4 // SET, OCTET STRING, then the SHA-1 digest
    expect(der.subarray(digest - 4, digest)).toEqual(Buffer.from('31160414', 'hex'))
    der[digest + 5] = der[digest + 5]! ^ 0xff
    const tampered = der
      .toString('base64')
      .match(/.{1,64}/g)!
      .join('\n')
    sim.setFaults({ routes: { pkcs7: { body: tampered } } })
    try {
      const home = join(dir, 'root')
      mkdirSync(home, { mode: 0o700 })
      await writeFor(sim.url, join(home, '.docker', 'config.json'))
      expect((await dockerInspect(join(home, '.docker'))).status).not.toBe(0)
      expect((await skopeoInspect(home)).status).not.toBe(0)
      expect(registry.decisions.at(-1)).toMatchObject({ granted: false, reason: 'the PKCS7 signature does not verify' })
    } finally {
      sim.setFaults({})
    }
  })

  it('both clients are refused for an account that is not on the allow list', async () => {
    const stranger = await startImdsSimulator({ document: { accountId: '999999999999' } })
    try {
      const home = join(dir, 'root')
      mkdirSync(home, { mode: 0o700 })
      await writeFor(stranger.url, join(home, '.docker', 'config.json'))
      expect((await dockerInspect(join(home, '.docker'))).status).not.toBe(0)
      expect((await skopeoInspect(home)).status).not.toBe(0)
      expect(registry.decisions.at(-1)).toMatchObject({ granted: false, reason: 'account 999999999999 is not allowed' })
    } finally {
      await stranger.close()
    }
  })
})

describe.runIf(haveOrCi('docker'))('living with Docker’s own writer', () => {
  it('docker logout of another registry keeps our entry byte-for-byte, and our next run keeps Docker’s change', async () => {
    const configDir = join(dir, 'docker')
    const config = join(configDir, 'config.json')
    mkdirSync(configDir, { mode: 0o700 })
    writeFileSync(
      config,
      JSON.stringify({
        auths: { 'other.example.com': { auth: Buffer.from('robot:pw').toString('base64') } },
        psFormat: 'table {{.ID}}',
        credHelpers: { 'ecr.example.com': 'ecr-login' },
      }),
      { mode: 0o600 },
    )
    const first = await runCli(['-r', 'pierone.example.com', '-c', config, '--endpoint', sim.url])
    expect(first.code).toBe(0)
    const ours = JSON.parse(readFileSync(config, 'utf8')).auths['pierone.example.com'].auth as string
    expect(Buffer.from(ours, 'base64').toString()).toBe(`instance-identity-document:${sim.pkcs7}`)

    const logout = await runProgram('docker', ['--config', configDir, 'logout', 'other.example.com'], {
      env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent.sock' },
    })
    expect(logout.status, logout.stderr).toBe(0)
    const afterDocker = JSON.parse(readFileSync(config, 'utf8'))
    expect(afterDocker.auths).toEqual({ 'pierone.example.com': { auth: ours } })
    expect(afterDocker.psFormat).toBe('table {{.ID}}')
    expect(afterDocker.credHelpers).toEqual({ 'ecr.example.com': 'ecr-login' })

    const past = new Date('2021-01-01T00:00:00Z')
    utimesSync(config, past, past)
    const again = await runCli(['-r', 'pierone.example.com', '-c', config, '--endpoint', sim.url])
    expect(again.code).toBe(0)
    expect(again.stderr).toContain('already current')
    expect(statSync(config).mtime.getTime()).toBe(past.getTime())
    expect(JSON.parse(readFileSync(config, 'utf8')).auths['other.example.com']).toBeUndefined()

    // A second registry merged into Docker's output keeps all of Docker's fields.
    const more = await runCli(['-r', 'second.example.com', '-c', config, '--endpoint', sim.url])
    expect(more.code).toBe(0)
    const merged = JSON.parse(readFileSync(config, 'utf8'))
    expect(merged).toEqual({ ...afterDocker, auths: { 'pierone.example.com': { auth: ours }, 'second.example.com': { auth: ours } } })
  })
})
