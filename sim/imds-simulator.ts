// A local stand-in for the EC2 instance metadata service (IMDSv2) on loopback, with faults that can
// be switched on per route. The tests and the README's demo use it; the CLI never imports it.
// Documents are signed the way EC2 signs them: PKCS7 SignedData with the document embedded,
// BER with indefinite lengths, DSA/SHA-1 for `pkcs7` and RSA/SHA-256 for `rsa2048`, served as
// base64 lines without PEM armour. The signing keys are made with openssl once per process.

import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export type ImdsRoute = 'token' | 'document' | 'pkcs7' | 'rsa2048'

export interface RouteFault {
  /** Answer with this status (and an empty body) instead. */
  readonly status?: number
  /** Accept the request, never answer. */
  readonly hang?: boolean
  /** Wait this long before the response headers. */
  readonly delayMs?: number
  /** Send the headers and half the body, then stall. */
  readonly stallBody?: boolean
  /** Destroy the connection without an answer. */
  readonly reset?: boolean
  /** Answer 200 with this body instead of the real one. */
  readonly body?: string
  /**
   * Answer 200 with a body of this many bytes instead: base64 lines that begin like a PKCS7,
   * streamed as the client reads them, so that the simulator itself holds only one chunk.
   */
  readonly oversizedBytes?: number
  /** Apply the fault to the first N requests on the route only (default: all). */
  readonly times?: number
}

export interface SimulatorFaults {
  readonly routes?: Partial<Record<ImdsRoute, RouteFault>>
  /** IMDSv2 required: a GET without a token gets 401 (default true). */
  readonly requireToken?: boolean
  /** Tokens expire after this long, whatever TTL was asked for. */
  readonly tokenLifetimeMs?: number
}

export interface RequestRecord {
  readonly method: string
  readonly path: string
  readonly route: ImdsRoute | undefined
  readonly token: 'none' | 'valid' | 'invalid'
  readonly ttlHeader: string | undefined
  readonly at: number
}

export interface SimulatorOptions {
  readonly host?: string
  readonly port?: number
  /** Start listening only after this long (a service that appears late in boot). */
  readonly listenAfterMs?: number
  /** Fields that override the default identity document. */
  readonly document?: Readonly<Record<string, unknown>>
  /** Embed this text in the PKCS7 instead of the served document (a confused proxy). */
  readonly signedDocument?: string
  readonly faults?: SimulatorFaults
}

export interface ImdsSimulator {
  /** Base URL to pass as --endpoint. */
  readonly url: string
  readonly port: number
  readonly document: string
  readonly pkcs7: string
  readonly rsa2048: string
  readonly certificates: { readonly pkcs7: string; readonly rsa2048: string }
  readonly requests: RequestRecord[]
  /** Every token handed out, so tests can check that none leaks. */
  issuedTokens(): string[]
  /** Time the server started listening (ms since epoch), once it has. */
  listeningSince(): number | undefined
  setFaults(faults: SimulatorFaults): void
  close(): Promise<void>
}

export const defaultDocumentFields = {
  accountId: '123456789012',
  architecture: 'x86_64',
  availabilityZone: 'eu-central-1a',
  billingProducts: null,
  devpayProductCodes: null,
  marketplaceProductCodes: null,
  imageId: 'ami-0123456789abcdef0',
  instanceId: 'i-0123456789abcdef0',
  instanceType: 't3.micro',
  kernelId: null,
  pendingTime: '2026-11-23T07:00:00Z',
  privateIp: '10.0.0.12',
  ramdiskId: null,
  region: 'eu-central-1',
  version: '2017-09-30',
} as const

/** EC2's layout: two-space indent and " : " between key and value. */
export function formatDocument(fields: Readonly<Record<string, unknown>>): string {
  const lines = Object.entries(fields).map(([k, v]) => `  ${JSON.stringify(k)} : ${JSON.stringify(v)}`)
  return `{\n${lines.join(',\n')}\n}`
}

interface SigningKit {
  readonly dir: string
  readonly dsaKey: string
  readonly dsaCert: string
  readonly rsaKey: string
  readonly rsaCert: string
}

let kit: SigningKit | undefined

/** Every signature served and token issued by any simulator in this process: tests search all output for them. */
const servedSecrets = new Set<string>()
const servedSignatures = new Set<string>()
export const knownSecrets = (): string[] => [...servedSecrets]
/** Every whole signature served (from which the auth values are built). */
export const knownSignatures = (): string[] => [...servedSignatures]

function signingKit(): SigningKit {
  if (kit !== undefined) return kit
  const dir = mkdtempSync(join(tmpdir(), 'imds-sim-keys-'))
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  }
  const k = {
    dir,
    dsaKey: join(dir, 'dsa.key'),
    dsaCert: join(dir, 'dsa.crt'),
    rsaKey: join(dir, 'rsa.key'),
    rsaCert: join(dir, 'rsa.crt'),
  }
  run('genpkey', '-genparam', '-algorithm', 'DSA', '-pkeyopt', 'dsa_paramgen_bits:2048', '-out', join(dir, 'dsa.params'))
  run('genpkey', '-paramfile', join(dir, 'dsa.params'), '-out', k.dsaKey)
  run('req', '-x509', '-key', k.dsaKey, '-out', k.dsaCert, '-days', '3650', '-subj', '/CN=IMDS simulator (pkcs7)', '-sha256')
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    k.rsaKey,
    '-out',
    k.rsaCert,
    '-days',
    '3650',
    '-subj',
    '/CN=IMDS simulator (rsa2048)',
    '-sha256',
  )
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  kit = k
  return k
}

/** The PEM files of the simulator's signing certificates (DSA for `pkcs7`, RSA for `rsa2048`). */
export function signingCertificates(): { readonly pkcs7: string; readonly rsa2048: string } {
  const k = signingKit()
  return { pkcs7: k.dsaCert, rsa2048: k.rsaCert }
}

/** Signs `content` as EC2 does and returns base64 lines of 64 characters without armour. */
export function signLikeEc2(content: string, kind: 'pkcs7' | 'rsa2048'): string {
  const k = signingKit()
  const input = join(k.dir, `in-${randomBytes(6).toString('hex')}`)
  const output = `${input}.der`
  writeFileSync(input, content)
  try {
    const [key, cert, md] = kind === 'pkcs7' ? [k.dsaKey, k.dsaCert, 'sha1'] : [k.rsaKey, k.rsaCert, 'sha256']
    execFileSync(
      'openssl',
      [
        'smime',
        '-sign',
        '-in',
        input,
        '-signer',
        cert,
        '-inkey',
        key,
        '-nodetach',
        '-binary',
        '-outform',
        'DER',
        '-md',
        md,
        '-stream',
        '-out',
        output,
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    const base64 = readFileSync(output).toString('base64')
    return base64.match(/.{1,64}/g)!.join('\n')
  } finally {
    rmSync(input, { force: true })
    rmSync(output, { force: true })
  }
}

/** 64 KiB of base64 lines; the first chunk begins like EC2's PKCS7 (BER SEQUENCE, signedData OID). */
const fillerText = `${'A'.repeat(64)}\n`.repeat(1009).slice(0, 65536)
const oversizedChunks = { first: Buffer.from(`MIAGCSqGSIb3DQEHAqCA${fillerText.slice(20)}`), rest: Buffer.from(fillerText) }

/** Sends `total` bytes with backpressure, so that a 300 MB body costs the simulator one chunk. */
function streamOversized(res: ServerResponse, total: number): void {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': total })
  let sent = 0
  const more = (): void => {
    while (sent < total && !res.destroyed) {
      const chunk = (sent === 0 ? oversizedChunks.first : oversizedChunks.rest).subarray(0, total - sent)
      sent += chunk.length
      if (sent >= total) res.end(chunk)
      else if (!res.write(chunk)) return void res.once('drain', more)
    }
  }
  more()
}

const routes: Record<string, ImdsRoute> = {
  '/latest/api/token': 'token',
  '/latest/dynamic/instance-identity/document': 'document',
  '/latest/dynamic/instance-identity/pkcs7': 'pkcs7',
  '/latest/dynamic/instance-identity/rsa2048': 'rsa2048',
}

export async function startImdsSimulator(options: SimulatorOptions = {}): Promise<ImdsSimulator> {
  const host = options.host ?? '127.0.0.1'
  const document = formatDocument({ ...defaultDocumentFields, ...options.document })
  const signed = options.signedDocument ?? document
  const bodies: Record<Exclude<ImdsRoute, 'token'>, string> = {
    document,
    pkcs7: signLikeEc2(signed, 'pkcs7'),
    rsa2048: signLikeEc2(signed, 'rsa2048'),
  }
  for (const body of [bodies.pkcs7, bodies.rsa2048]) {
    servedSignatures.add(body)
    for (const line of body.split('\n')) servedSecrets.add(line)
  }
  let faults: SimulatorFaults = options.faults ?? {}
  const counts: Record<ImdsRoute, number> = { token: 0, document: 0, pkcs7: 0, rsa2048: 0 }
  const tokens = new Map<string, number>() // token -> expiry (ms since epoch)
  const requests: RequestRecord[] = []
  const sockets = new Set<Socket>()
  let listeningSince: number | undefined

  const tokenState = (req: IncomingMessage): RequestRecord['token'] => {
    const token = req.headers['x-aws-ec2-metadata-token']
    if (typeof token !== 'string' || token === '') return 'none'
    const expiry = tokens.get(token)
    return expiry !== undefined && expiry > Date.now() ? 'valid' : 'invalid'
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? ''
    // Real IMDS tolerates the SDK's `//latest/...` (its README's leading slash); the request log
    // keeps the raw path, so tests still see what a client sent.
    const route = routes[path.replace(/^\/{2,}/, '/')]
    const token = tokenState(req)
    const ttlHeader = req.headers['x-aws-ec2-metadata-token-ttl-seconds']
    requests.push({
      method: req.method ?? '',
      path,
      route,
      token,
      ttlHeader: typeof ttlHeader === 'string' ? ttlHeader : undefined,
      at: Date.now(),
    })

    const answer = (status: number, body = ''): void => {
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    }
    if (route === undefined) return answer(404)
    if ((route === 'token') !== (req.method === 'PUT')) return answer(405)

    counts[route]++
    const fault = faults.routes?.[route]
    const active = fault !== undefined && (fault.times === undefined || counts[route] <= fault.times)

    const respond = (): void => {
      if (active && fault.status !== undefined) return answer(fault.status)
      const status = 200
      let body: string
      if (route === 'token') {
        const ttl = typeof ttlHeader === 'string' && /^[0-9]+$/.test(ttlHeader) ? Number(ttlHeader) : NaN
        if (!(ttl >= 1 && ttl <= 21600)) return answer(400)
        if (req.headers['x-forwarded-for'] !== undefined) return answer(403)
        body = randomBytes(42).toString('base64')
        tokens.set(body, Date.now() + Math.min(ttl * 1000, faults.tokenLifetimeMs ?? Infinity))
        servedSecrets.add(body)
        res.setHeader('x-aws-ec2-metadata-token-ttl-seconds', String(ttl))
      } else {
        if (token === 'invalid' || (token === 'none' && (faults.requireToken ?? true))) return answer(401)
        body = bodies[route]
      }
      if (active && fault.body !== undefined) body = fault.body
      if (active && fault.oversizedBytes !== undefined) return streamOversized(res, fault.oversizedBytes)
      if (active && fault.stallBody) {
        res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) + 16 })
        res.write(body.slice(0, Math.floor(body.length / 2)))
        return // never finished
      }
      answer(status, body)
    }

    if (active && fault.reset) {
      req.socket.destroy()
      return
    }
    if (active && fault.hang) return
    if (active && fault.delayMs !== undefined) {
      setTimeout(respond, fault.delayMs)
      return
    }
    respond()
  }

  const server = createServer(handle)
  server.keepAliveTimeout = 1000
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        listeningSince = Date.now()
        resolve((server.address() as AddressInfo).port)
      })
    })

  let port: number
  let lateListen: NodeJS.Timeout | undefined
  if (options.listenAfterMs !== undefined) {
    // Reserve a free port, release it, and come back on it later.
    const probe = createServer()
    port = await new Promise<number>((resolve) =>
      probe.listen(options.port ?? 0, host, () => resolve((probe.address() as AddressInfo).port)),
    )
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    lateListen = setTimeout(() => void listen(port), options.listenAfterMs)
  } else {
    port = await listen(options.port ?? 0)
  }

  const urlHost = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${urlHost}:${port}`,
    port,
    document,
    pkcs7: bodies.pkcs7,
    rsa2048: bodies.rsa2048,
    certificates: { pkcs7: signingKit().dsaCert, rsa2048: signingKit().rsaCert },
    requests,
    issuedTokens: () => [...tokens.keys()],
    listeningSince: () => listeningSince,
    setFaults(next) {
      faults = next
      for (const key of Object.keys(counts) as ImdsRoute[]) counts[key] = 0
    },
    close: () =>
      new Promise<void>((resolve) => {
        clearTimeout(lateListen)
        for (const socket of sockets) socket.destroy()
        if (!server.listening) return resolve()
        server.close(() => resolve())
      }),
  }
}
