// The registry side end to end, all on loopback and with real parts: Debian's docker-registry (no
// auth of its own) behind Debian's nginx, whose auth_request asks `iid-docker-auth verify --listen`.
// Docker's CLI and skopeo get in with the config.json the writer made, and again through
// docker-credential-iid; an account not allowed is refused. The test starts and stops nginx
// (-p/-c inside a temp directory: the machine's /etc/nginx is never read), the registry and verify.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startImdsSimulator, type ImdsSimulator } from '../../sim/imds-simulator.js'
import { haveOrCi, repoRoot, rootOrCi, runCli, runProgram } from '../support/helpers.js'
import { startVerifyServer } from '../support/verify-server.js'

const available = haveOrCi('nginx', 'docker-registry', 'skopeo', 'docker', 'openssl') && rootOrCi
const repository = 'team/app'

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function waitFor(url: string, ok: (status: number) => boolean, what: string, child: ChildProcess): Promise<void> {
  const started = performance.now()
  for (;;) {
    try {
      if (ok((await fetch(url)).status)) return
    } catch {
      // not yet
    }
    if (child.exitCode !== null || performance.now() - started > 15_000) throw new Error(`${what} did not start`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

let dir: string
let sim: ImdsSimulator
let stranger: ImdsSimulator
let registry: ChildProcess
let nginx: ChildProcess
let verifier: Awaited<ReturnType<typeof startVerifyServer>>
let host: string

beforeAll(async () => {
  if (!available) return
  dir = mkdtempSync(join(tmpdir(), 'iid-nginx-'))
  sim = await startImdsSimulator()
  stranger = await startImdsSimulator({ document: { accountId: '210987654321' } })
  const registryPort = await freePort()
  mkdirSync(join(dir, 'data'))
  writeFileSync(
    join(dir, 'registry.yml'),
    `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${join(dir, 'data')} } }\nhttp: { addr: "127.0.0.1:${registryPort}" }\n`,
  )
  registry = spawn('docker-registry', ['serve', join(dir, 'registry.yml')], { stdio: 'ignore' })
  await waitFor(`http://127.0.0.1:${registryPort}/v2/`, (s) => s === 200, 'docker-registry', registry)
  verifier = await startVerifyServer([
    '--certs',
    sim.certificates.pkcs7,
    '--certs',
    sim.certificates.rsa2048,
    '--allow-account',
    '123456789012',
  ])
  const nginxPort = await freePort()
  host = `127.0.0.1:${nginxPort}`
  for (const d of ['logs', 'tmp']) mkdirSync(join(dir, d))
  const conf = join(dir, 'nginx.conf')
  writeFileSync(
    conf,
    `daemon off;
master_process off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} warn;
events { worker_connections 64; }
http {
  access_log ${join(dir, 'logs', 'access.log')};
  client_body_temp_path ${join(dir, 'tmp', 'body')};
  proxy_temp_path ${join(dir, 'tmp', 'proxy')};
  fastcgi_temp_path ${join(dir, 'tmp', 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'tmp', 'uwsgi')};
  scgi_temp_path ${join(dir, 'tmp', 'scgi')};
  server {
    listen ${host};
    client_max_body_size 0;
    location /v2/ {
      auth_request /_iid;
      auth_request_set $iid_account $upstream_http_x_iid_account;
      add_header Docker-Distribution-Api-Version registry/2.0 always;
      proxy_pass http://127.0.0.1:${registryPort};
      proxy_set_header Host $http_host;
    }
    location = /_iid {
      internal;
      proxy_pass ${verifier.url}/auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
    }
  }
}
`,
  )
  nginx = spawn('nginx', ['-p', dir, '-c', conf, '-e', join(dir, 'logs', 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] })
  await waitFor(`http://${host}/v2/`, (s) => s === 401, 'nginx', nginx)
  // The image goes straight into the registry, which has no auth of its own.
  const oci = join(dir, 'oci')
  execFileSync('sh', ['-c', `mkdir -p ${oci}/c && echo hello > ${oci}/c/hello.txt`])
  const seed = await runProgram(
    'skopeo',
    [
      '--insecure-policy',
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `dir:${seedDir(dir)}`,
      `docker://127.0.0.1:${registryPort}/${repository}:latest`,
    ],
    {},
  )
  expect(seed.status, seed.stderr).toBe(0)
}, 60_000)

afterAll(async () => {
  for (const child of [nginx, registry, verifier?.child]) {
    if (child === undefined || child.exitCode !== null) continue
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
  }
  await sim?.close()
  await stranger?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** A one-layer image in skopeo's `dir:` layout. */
function seedDir(base: string): string {
  const out = join(base, 'image')
  mkdirSync(out)
  const tar = execFileSync('tar', ['-C', join(base, 'oci', 'c'), '--owner=0', '--group=0', '--mtime=@0', '-cf', '-', 'hello.txt'])
  const layer = execFileSync('gzip', ['-n'], { input: tar })
  const sha = (b: Buffer | string) => execFileSync('sha256sum', { input: b }).toString().split(' ')[0]!
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha(tar)}`] },
  })
  writeFileSync(join(out, sha(layer)), layer)
  writeFileSync(join(out, sha(config)), config)
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha(config)}`, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${sha(layer)}`, size: layer.length }],
  }
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest))
  writeFileSync(join(out, 'version'), 'Directory Transport Version: 1.1\n')
  return out
}

const image = () => `${host}/${repository}:latest`
const docker = (configDir: string, env: Record<string, string> = {}) =>
  runProgram('docker', ['--config', configDir, 'manifest', 'inspect', '--insecure', image()], {
    env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent.sock', ...env },
  })
const skopeo = (authfile: string) =>
  runProgram('skopeo', ['inspect', '--tls-verify=false', '--authfile', authfile, `docker://${image()}`], { env: process.env })

async function written(source: ImdsSimulator, name: string, extra: string[] = []): Promise<string> {
  const configDir = join(dir, name)
  const run = await runCli(['write', '-r', host, '-c', join(configDir, 'config.json'), '--endpoint', source.url, '-q', ...extra])
  expect(run.code, run.stderr).toBe(0)
  return configDir
}

describe.runIf(available)('nginx auth_request in front of docker-registry', () => {
  it('Docker’s CLI and skopeo pull with the config.json the writer made (pkcs7 lines, rsa2048 one line)', async () => {
    for (const [name, args] of [
      ['pkcs7', []],
      ['rsa2048', ['--signature', 'rsa2048', '--strip-newlines']],
    ] as const) {
      const configDir = await written(sim, name, [...args])
      const d = await docker(configDir)
      expect(d.status, d.stderr).toBe(0)
      expect(d.stdout).toContain('application/vnd.oci.image.layer.v1.tar+gzip')
      const s = await skopeo(join(configDir, 'config.json'))
      expect(s.status, s.stderr).toBe(0)
    }
    expect(readFileSync(join(dir, 'logs', 'access.log'), 'utf8')).toMatch(/GET \/v2\/team\/app\/manifests\/latest HTTP\/1.1" 200/)
  })

  it('and through docker-credential-iid (credHelpers only)', async () => {
    const bin = join(dir, 'bin')
    mkdirSync(bin, { recursive: true })
    writeFileSync(
      join(bin, 'docker-credential-iid'),
      `#!/bin/sh\nexec ${process.execPath} ${join(repoRoot, 'bin', 'docker-credential-iid.cjs')} "$@"\n`,
    )
    chmodSync(join(bin, 'docker-credential-iid'), 0o755)
    const configDir = join(dir, 'helper')
    mkdirSync(configDir)
    writeFileSync(join(configDir, 'config.json'), JSON.stringify({ credHelpers: { [host]: 'iid' } }), { mode: 0o600 })
    const d = await docker(configDir, {
      PATH: `${bin}:${process.env['PATH']}`,
      IID_DOCKER_AUTH_REGISTRIES: host,
      IID_DOCKER_AUTH_ENDPOINT: sim.url,
      IID_DOCKER_AUTH_PLATFORM: 'ec2',
    })
    expect(d.status, d.stderr).toBe(0)
  })

  it('an account not allowed is refused at pull, and without credentials there is a challenge', async () => {
    const configDir = await written(stranger, 'stranger')
    const d = await docker(configDir)
    expect(d.status).not.toBe(0)
    const s = await skopeo(join(configDir, 'config.json'))
    expect(s.status).not.toBe(0)
    expect(verifier.stderr()).toMatch(/denied account 210987654321 .*: account 210987654321 is not allowed/)
    const empty = join(dir, 'empty')
    mkdirSync(empty)
    expect((await docker(empty)).status).not.toBe(0)
  })
})
