// probeRegistry against fake registries on loopback, in this process. A guard in front of fetch
// records every URL asked and refuses anything that is not loopback, so even a probe that would send
// the credential elsewhere sends nothing off this machine: the test sees the attempt instead.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { credentialMayGo, maxBodyBytes, probeRegistry } from '../../src/registry/probe.js'

const realFetch = globalThis.fetch
const isLoopbackUrl = (url: URL): boolean => /^(127\.\d+\.\d+\.\d+|\[::1\])$/.test(url.hostname)
let asked: string[] = []
beforeEach(() => {
  asked = []
  vi.stubGlobal('fetch', (input: string | URL, init?: RequestInit) => {
    const url = new URL(String(input))
    asked.push(url.href)
    if (!isLoopbackUrl(url)) return Promise.reject(new TypeError(`test guard: ${url.href} is not loopback; not sent`))
    return realFetch(input, init)
  })
})
afterEach(() => {
  vi.unstubAllGlobals()
})

interface Seen {
  readonly path: string
  readonly authorization: string | undefined
}

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((resolve) => s.close(resolve))
  }
})

/** A registry on loopback; `handle` answers every request after it is recorded. */
async function fake(
  handle: (req: IncomingMessage, res: ServerResponse, base: string) => void,
  host = '127.0.0.1',
): Promise<{ host: string; base: string; seen: Seen[] }> {
  const seen: Seen[] = []
  let base = ''
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', authorization: req.headers.authorization })
    handle(req, res, base)
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  const hostPort = `${host}:${(server.address() as AddressInfo).port}`
  base = `http://${hostPort}`
  return { host: hostPort, base, seen }
}

/** A registry whose /v2/ asks for a token at `realm`, and whose other paths `token` answers. */
const bearer = (
  realm: (base: string) => string,
  token: (req: IncomingMessage, res: ServerResponse, base: string) => void = (_, res) => res.end('{"token":"t"}'),
) =>
  fake((req, res, base) => {
    if (req.url === '/v2/') {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm(base)}",service="fake"` })
      res.end()
    } else token(req, res, base)
  })

const probe = (host: string) => probeRegistry(host, 'instance-identity-document', 'MIIB-pkcs7')

describe('credentialMayGo', () => {
  it.each([
    ['https://auth.example.com/token', true],
    ['https://10.0.0.1/token', true],
    ['http://127.0.0.1:5000/token', true],
    ['http://127.255.0.9/token', true],
    ['http://localhost:5000/token', true],
    ['http://LOCALHOST/token', true],
    ['http://[::1]:5000/token', true],
    ['http://0x7f.1/token', true], // the URL parser reads it as 127.0.0.1
    ['http://10.0.0.1/token', false],
    ['http://registry.invalid/token', false],
    ['http://localhost.example.com/token', false],
    ['http://127.0.0.1.example.com/token', false],
    ['http://[::ffff:127.0.0.1]/token', false],
    ['ftp://127.0.0.1/token', false],
    ['file:///etc/passwd', false],
  ])('%s: %s', (realm, may) => {
    expect(credentialMayGo(new URL(realm))).toBe(may)
  })
})

describe('probeRegistry', () => {
  it('sends the credential to a token realm on loopback over plain http', async () => {
    const realm = await fake((_, res) => res.end('{"token":"t"}'), '127.0.0.2')
    const registry = await bearer(() => `${realm.base}/token`)
    const result = await probe(registry.host)
    expect(result).toMatchObject({ outcome: 'accepted', status: 200 })
    expect(realm.seen).toEqual([{ path: '/token?service=fake', authorization: expect.stringMatching(/^Basic /) }])
  })

  it.each(['http://registry.invalid/token', 'http://10.0.0.1/token', 'ftp://127.0.0.1/token'])(
    'refuses to send the credential to the realm %s, before any connection',
    async (realm) => {
      const registry = await bearer(() => realm)
      const result = await probe(registry.host)
      expect(result.outcome).toBe('withheld')
      expect(result.detail).toContain(`"${realm}"`)
      expect(asked.every((url) => url.endsWith('/v2/') && url.includes(registry.host))).toBe(true)
      expect(registry.seen.map((s) => s.authorization)).toEqual([undefined])
    },
  )

  it('reports a realm that is not a URL as the registry’s fault, sending nothing', async () => {
    // A header value may carry C1 control characters (0x80-0x9f), which some terminals obey.
    const registry = await bearer(() => '::not a url\u009b2J')
    const result = await probe(registry.host)
    expect(result.outcome).toBe('invalid-realm')
    expect(result.detail).toBe('"::not a url\\u009b2J"')
    expect(registry.seen).toHaveLength(1)
  })

  it('does not follow a redirect with the credential', async () => {
    const registry = await bearer(
      (base) => `${base}/token`,
      (req, res, base) => {
        if (req.url!.startsWith('/token')) res.writeHead(302, { location: `${base}/elsewhere` }).end()
        else res.end('{"token":"t"}')
      },
    )
    const result = await probe(registry.host)
    expect(result).toMatchObject({ outcome: 'redirected', status: 302 })
    expect(result.detail).toContain(`${registry.base}/elsewhere`)
    expect(registry.seen.map((s) => s.path)).toEqual(['/v2/', '/token?service=fake'])
  })

  it('reads at most 64 KiB of a body that never ends, and returns at once', async () => {
    // 32 MiB, then the body stalls without ending: a reader without a cap waits for the timeout.
    let written = 0
    const registry = await bearer(
      (base) => `${base}/token`,
      (_, res) => {
        res.writeHead(401, { 'content-type': 'text/plain' })
        const chunk = Buffer.alloc(64 * 1024, 'x')
        const more = (): void => {
          while (!res.destroyed && written < 32 * 1024 * 1024) {
            written += chunk.length
            if (!res.write(chunk)) return void res.once('drain', more)
          }
        }
        more()
      },
    )
    const started = Date.now()
    const result = await probe(registry.host)
    expect(result.outcome).toBe('refused')
    expect(result.detail).toMatch(/^x{1,200}$/)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(maxBodyBytes).toBe(64 * 1024)
    expect(written).toBeGreaterThan(0)
  })

  it('escapes control characters in the registry’s words', async () => {
    const registry = await bearer(
      (base) => `${base}/token`,
      (_, res) => res.writeHead(401).end(JSON.stringify({ errors: [{ message: 'denied\u001b[2J\u0007\u009b31m\r\nfake line\u007f' }] })),
    )
    const result = await probe(registry.host)
    expect(result.outcome).toBe('refused')
    expect(result.detail).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/)
    expect(result.detail).toBe('denied\\u001b[2J\\u0007\\u009b31m\\u000d\\u000afake line\\u007f')
  })
})
