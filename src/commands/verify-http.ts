// `verify --listen HOST:PORT`: the check nginx's auth_request asks, one subrequest per client request.
// 200 allowed (X-Iid-Account, X-Iid-Instance-Id, X-Iid-Region, X-Iid-Image-Id for the access log),
// 401 with WWW-Authenticate when there is no usable credential of ours, 403 when it is refused.
// GET /healthz answers 200. Bounded by node:http's own limits (header size, header and request
// time, connections); a body is refused. SIGTERM or SIGINT stops accepting, lets the requests in
// flight finish within a deadline, and exits 0.

import { type IncomingMessage, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { monotonicMs } from '../clock.js'
import { parseBasicAuthorization } from '../verify/credential.js'
import type { Verdict, Verifier } from '../verify/verifier.js'

export interface ServeOptions {
  readonly host: string
  readonly port: number
  readonly realm: string
  readonly maxConnections: number
  readonly log: (verdict: Verdict, via: string) => void
  readonly info: (text: string) => void
}

/** Bounds on each request; nginx's auth subrequest is a GET with headers only. */
export const httpLimits = {
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  // How often Node enforces the two timeouts above (its default, 30 s, would let idle sockets hold
  // --max-connections for that long).
  timeoutCheckMs: 500,
  // Longer than a request can take (the EC2 check's deadline included), so a drain answers them all.
  drainMs: 10_000,
  /** At most one log line per this interval about connections refused at --max-connections. */
  dropLogMs: 10_000,
} as const

/** `HOST:PORT` or `[v6]:PORT`; a string is the reason it is not one. */
export function parseListen(text: string): { host: string; port: number } | string {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):([0-9]{1,5})$/.exec(text)
  const port = Number(match?.[3])
  if (match === null || port > 65535) return `--listen ${JSON.stringify(text.slice(0, 100))} is not HOST:PORT (e.g. 127.0.0.1:5001)`
  return { host: match[1] ?? match[2]!, port }
}

const quoted = (realm: string): string => realm.replace(/[^\x20-\x7e]|["\\]/g, '')

function answer(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-length': '0', 'cache-control': 'no-store', ...headers })
  res.end()
}

export async function serve(verifier: Verifier, options: ServeOptions): Promise<number> {
  const challenge = { 'www-authenticate': `Basic realm="${quoted(options.realm)}"` }
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, { allow: 'GET, HEAD' })
    if (req.url === '/healthz') return answer(res, 200)
    const length = req.headers['content-length']
    if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined)
      return answer(res, 413, { connection: 'close' })
    const credential = parseBasicAuthorization(req.headers.authorization)
    if (credential === undefined) return answer(res, 401, challenge)
    const verdict = await verifier.verify(credential.username, credential.password)
    options.log(verdict, 'http')
    if (verdict.outcome === 'other-user') return answer(res, 401, challenge)
    if (verdict.outcome === 'denied') return answer(res, 403)
    const { identity } = verdict
    answer(res, 200, {
      'x-iid-account': identity.accountId,
      'x-iid-instance-id': identity.instanceId,
      'x-iid-region': identity.region,
      'x-iid-image-id': identity.imageId,
    })
  }
  const server = createServer(
    {
      maxHeaderSize: httpLimits.maxHeaderBytes,
      requestTimeout: httpLimits.requestTimeoutMs,
      keepAliveTimeout: httpLimits.keepAliveTimeoutMs,
      connectionsCheckingInterval: httpLimits.timeoutCheckMs,
    },
    (req, res) => {
      handle(req, res).catch(() => {
        if (!res.headersSent) answer(res, 500)
        else res.destroy()
      })
    },
  )
  server.headersTimeout = httpLimits.headersTimeoutMs
  server.maxConnections = options.maxConnections
  let dropped = 0
  let lastDropLog = Number.NEGATIVE_INFINITY
  server.on('drop', () => {
    dropped++
    if (monotonicMs() - lastDropLog < httpLimits.dropLogMs) return
    lastDropLog = monotonicMs()
    options.info(`${dropped} connection(s) refused at --max-connections ${options.maxConnections}`)
    dropped = 0
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  options.info(`listening on http://${host}:${address.port}`)
  return new Promise<number>((resolve) => {
    let stopping = false
    // A second signal while draining changes nothing: the drain has its own deadline.
    const stop = (signal: string): void => {
      if (stopping) return
      stopping = true
      options.info(`${signal}: draining`)
      const started = monotonicMs()
      server.close(() => {
        clearInterval(timer)
        resolve(0)
      })
      server.closeIdleConnections()
      const timer = setInterval(() => {
        server.closeIdleConnections()
        if (monotonicMs() - started > httpLimits.drainMs) server.closeAllConnections()
      }, 100)
    }
    process.on('SIGTERM', () => stop('SIGTERM'))
    process.on('SIGINT', () => stop('SIGINT'))
  })
}
