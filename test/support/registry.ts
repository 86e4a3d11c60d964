// A real registry for the round-trip tests: Debian's docker-registry (distribution 2.8) on loopback
// with `auth: token`, and a small token service that plays the registry operator's part. It admits
// the instance-identity user only when the password is a PKCS7 that openssl verifies against the
// IMDS simulator's signing certificate (the certificate alone, `-nointern`: a signer certificate
// carried inside the PKCS7 is not trusted) and whose embedded document's accountId is allowed.
// A `seeder` user may push, so the tests can upload a tiny image with skopeo.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { execa, execaSync } from 'execa'
import { createHash, createSign, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const seeder = { username: 'seeder', password: 'seed-password' }

export interface RegistryOptions {
  /** Certificates whose signatures the token service accepts (the simulator's). */
  readonly signingCertificates: readonly string[]
  readonly allowedAccounts: readonly string[]
  readonly username?: string
}

export interface TokenDecision {
  readonly user: string
  readonly granted: boolean
  readonly reason: string
}

export interface Registry {
  /** host:port, the key a config.json uses. */
  readonly host: string
  readonly tokenUrl: string
  readonly decisions: TokenDecision[]
  close(): Promise<void>
}

async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const port = (probe.address() as AddressInfo).port
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url')

/** Verifies the PKCS7 with openssl against the given certificates; returns the embedded document. */
async function verifiedDocument(pkcs7: string, certificates: readonly string[], dir: string): Promise<string | undefined> {
  const der = join(dir, `sig-${randomBytes(6).toString('hex')}.der`)
  writeFileSync(der, Buffer.from(pkcs7.replace(/\s/g, ''), 'base64'))
  try {
    for (const cert of certificates) {
      try {
        const { stdout } = await execa('openssl', [
          'smime',
          '-verify',
          '-inform',
          'DER',
          '-in',
          der,
          '-certfile',
          cert,
          '-nointern',
          '-noverify',
        ])
        return stdout
      } catch {
        // try the next certificate
      }
    }
    return undefined
  } finally {
    rmSync(der, { force: true })
  }
}

export async function startRegistry(options: RegistryOptions): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), 'iid-registry-'))
  const username = options.username ?? 'instance-identity-document'
  const key = join(dir, 'token.key')
  const cert = join(dir, 'token.crt')
  execaSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '30',
    '-subj',
    '/CN=iid test token issuer',
    '-sha256',
  ])
  const keyPem = readFileSync(key, 'utf8')
  const certDer = Buffer.from(readFileSync(cert, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64')
  const service = 'iid-test-registry'
  const issuer = 'iid-test-token-service'
  const decisions: TokenDecision[] = []

  const issue = (user: string, scope: string | null, allowed: readonly string[]): string => {
    const access = []
    if (scope !== null) {
      const [type, name, actions] = scope.split(':')
      access.push({ type, name, actions: (actions ?? '').split(',').filter((a) => allowed.includes(a)) })
    }
    const now = Math.floor(Date.now() / 1000)
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] }))
    const claims = b64url(
      JSON.stringify({
        iss: issuer,
        sub: user,
        aud: service,
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomBytes(8).toString('hex'),
        access,
      }),
    )
    const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(keyPem)
    return `${header}.${claims}.${b64url(signature)}`
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const deny = (user: string, reason: string): void => {
      decisions.push({ user, granted: false, reason })
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="iid test token service"' })
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: reason }] }))
    }
    if (url.pathname !== '/token') {
      res.writeHead(404).end()
      return
    }
    const header = req.headers.authorization ?? ''
    if (!header.startsWith('Basic ')) return deny('', 'credentials required')
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    const user = decoded.slice(0, colon)
    const password = decoded.slice(colon + 1)
    let allowed: string[]
    if (user === seeder.username && password === seeder.password) {
      allowed = ['pull', 'push']
    } else if (user === username) {
      const document = await verifiedDocument(password, options.signingCertificates, dir)
      if (document === undefined) return deny(user, 'the PKCS7 signature does not verify')
      let accountId: unknown
      try {
        accountId = (JSON.parse(document) as { accountId?: unknown }).accountId
      } catch {
        return deny(user, 'the signed document is not JSON')
      }
      if (typeof accountId !== 'string' || !options.allowedAccounts.includes(accountId))
        return deny(user, `account ${String(accountId)} is not allowed`)
      allowed = ['pull']
    } else {
      return deny(user, 'unknown user')
    }
    decisions.push({ user, granted: true, reason: 'ok' })
    const token = issue(user, url.searchParams.get('scope'), allowed)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300 }))
  }

  const tokenServer = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(500).end(String(error))
    })
  })
  await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve))
  const tokenUrl = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/token`

  const port = await freePort()
  mkdirSync(join(dir, 'data'))
  const config = join(dir, 'config.yml')
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: { level: error }',
      `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} } }`,
      `http: { addr: "127.0.0.1:${port}", secret: ${randomBytes(8).toString('hex')} }`,
      'auth:',
      '  token:',
      `    realm: ${tokenUrl}`,
      `    service: ${service}`,
      `    issuer: ${issuer}`,
      `    rootcertbundle: ${cert}`,
      '',
    ].join('\n'),
  )
  const registry: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  let registryLog = ''
  registry.stderr!.on('data', (d: Buffer) => (registryLog += d.toString()))
  const host = `127.0.0.1:${port}`
  const started = Date.now()
  for (;;) {
    try {
      const response = await fetch(`http://${host}/v2/`)
      if (response.status === 401) break
    } catch {
      // not listening yet
    }
    if (registry.exitCode !== null || Date.now() - started > 15_000) throw new Error(`docker-registry did not start: ${registryLog}`)
    await new Promise((r) => setTimeout(r, 50))
  }

  return {
    host,
    tokenUrl,
    decisions,
    close: async () => {
      registry.kill('SIGTERM')
      await new Promise<void>((resolve) => (registry.exitCode !== null ? resolve() : registry.once('exit', () => resolve())))
      await new Promise<void>((resolve) => tokenServer.close(() => resolve()))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Writes a one-layer OCI image layout and pushes it with skopeo as the seeding user. */
export async function seedImage(registry: Registry, repository: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'iid-oci-'))
  try {
    const layout = join(dir, 'layout')
    const blobs = join(layout, 'blobs', 'sha256')
    mkdirSync(blobs, { recursive: true })
    const content = join(dir, 'content')
    mkdirSync(content)
    writeFileSync(join(content, 'hello.txt'), 'hello from the iid-docker-auth round trip\n')
    const tar = execFileSync('tar', ['-C', content, '--owner=0', '--group=0', '--mtime=@0', '-cf', '-', 'hello.txt'])
    const layer = execFileSync('gzip', ['-n'], { input: tar })
    const sha = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex')
    const blob = (data: Buffer | string): { digest: string; size: number } => {
      const digest = sha(data)
      writeFileSync(join(blobs, digest), data)
      return { digest: `sha256:${digest}`, size: Buffer.byteLength(data) }
    }
    const layerBlob = blob(layer)
    const configBlob = blob(
      JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${sha(tar)}`] } }),
    )
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layerBlob }],
    })
    const manifestBlob = blob(manifest)
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
    writeFileSync(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            ...manifestBlob,
            annotations: { 'org.opencontainers.image.ref.name': 'latest' },
          },
        ],
      }),
    )
    // Asynchronously: the token service that skopeo must reach runs in this very process.
    await execa(
      'skopeo',
      [
        '--insecure-policy',
        'copy',
        '--quiet',
        '--dest-tls-verify=false',
        '--dest-creds',
        `${seeder.username}:${seeder.password}`,
        `oci:${layout}:latest`,
        `docker://${registry.host}/${repository}:latest`,
      ],
      {
        timeout: 60_000,
      },
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
