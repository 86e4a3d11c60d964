import { afterEach, describe, expect, it, vi } from 'vitest'
import { rejection } from '../support/helpers.js'
import { spawn } from 'node:child_process'
import { type Socket, connect } from 'node:net'
import { MetadataService } from '@aws-sdk/ec2-metadata-service'
import { type FetchIdentityOptions, fetchIdentity } from '../../src/imds/client.js'
import type { Logger } from '../../src/log.js'
import { type ImdsSimulator, type SimulatorOptions, startImdsSimulator } from '../../sim/imds-simulator.js'

let sim: ImdsSimulator | undefined
afterEach(async () => {
  await sim?.close()
  sim = undefined
})

const lines: string[] = []
const log: Logger = {
  error: (m) => lines.push(`error ${m}`),
  fix: (m) => lines.push(`fix ${m}`),
  warn: (m) => lines.push(`warn ${m}`),
  info: (m) => lines.push(`info ${m}`),
  debug: (m) => lines.push(`debug ${m}`),
}

async function start(options: SimulatorOptions = {}): Promise<ImdsSimulator> {
  sim = await startImdsSimulator(options)
  return sim
}

const fetchFrom = (s: ImdsSimulator, extra: Partial<FetchIdentityOptions> = {}) =>
  fetchIdentity({ endpoint: `${s.url}/`, signature: 'pkcs7', timeoutMs: 3000, attemptTimeoutMs: 300, log, ...extra })

/** IMDSv2 only: no GET ever goes out without a token, and no path has `//`. */
function expectProtocolDiscipline(s: ImdsSimulator): void {
  for (const r of s.requests) {
    expect(r.path.startsWith('//')).toBe(false)
    if (r.method === 'GET') expect(r.token).not.toBe('none')
    if (r.method === 'PUT') expect(Number(r.ttlHeader)).toBeGreaterThan(0)
  }
}

describe('fetchIdentity against the IMDS simulator', () => {
  it('does one token PUT, then both GETs with that token', async () => {
    const s = await start()
    const identity = await fetchFrom(s)
    expect(identity.document).toBe(s.document)
    expect(identity.signature).toBe(s.pkcs7)
    expect(s.requests.map((r) => `${r.method} ${r.path} ${r.token}`).sort()).toEqual([
      'GET /latest/dynamic/instance-identity/document valid',
      'GET /latest/dynamic/instance-identity/pkcs7 valid',
      'PUT /latest/api/token none',
    ])
    expect(s.requests[0]!.method).toBe('PUT')
    expectProtocolDiscipline(s)
  })

  it('fetches the rsa2048 signature when asked', async () => {
    const s = await start()
    const identity = await fetchFrom(s, { signature: 'rsa2048' })
    expect(identity.signature).toBe(s.rsa2048)
    expect(s.requests.some((r) => r.path.endsWith('/pkcs7'))).toBe(false)
  })

  it('never falls back to IMDSv1, even when the service allows it and tokens fail', async () => {
    const s = await start({ faults: { requireToken: false, routes: { token: { status: 500 } } } })
    const error = await rejection(fetchFrom(s, { timeoutMs: 800 }))
    expect(error.exitCode).toBe(69)
    expect(s.requests.filter((r) => r.method === 'GET')).toEqual([])
    expect(s.requests.filter((r) => r.method === 'PUT').length).toBeGreaterThan(1)
  })

  it.each([401, 408, 429, 500, 502, 503])('retries HTTP %i on the document and succeeds', async (status) => {
    const s = await start({ faults: { routes: { document: { status, times: 2 } } } })
    const identity = await fetchFrom(s)
    expect(identity.document).toBe(s.document)
    expect(s.requests.filter((r) => r.route === 'document')).toHaveLength(3)
    // Every attempt gets a fresh token.
    expect(s.requests.filter((r) => r.method === 'PUT')).toHaveLength(3)
    expectProtocolDiscipline(s)
  })

  it('gets a fresh token when the old one expired (401)', async () => {
    const s = await start({ faults: { tokenLifetimeMs: 0 } })
    const error = await rejection(fetchFrom(s, { timeoutMs: 600 }))
    expect(error.exitCode).toBe(69)
    expect(error.message).toMatch(/HTTP 401/)
    s.setFaults({})
    await expect(fetchFrom(s)).resolves.toBeTruthy()
  })

  it('gives up at once on a token 403 (IMDS disabled), with the fix', async () => {
    const s = await start({ faults: { routes: { token: { status: 403 } } } })
    const started = Date.now()
    const error = await rejection(fetchFrom(s, { timeoutMs: 10_000 }))
    expect(Date.now() - started).toBeLessThan(1000)
    expect(error.exitCode).toBe(69)
    expect(error.message).toMatch(/token request.*HTTP 403/)
    expect(error.hint).toMatch(/--http-endpoint enabled/)
    expect(s.requests).toHaveLength(1)
  })

  it.each(['token', 'document', 'pkcs7'] as const)('gives up at once on a 404 from %s', async (route) => {
    const s = await start({ faults: { routes: { [route]: { status: 404 } } } })
    const started = Date.now()
    const error = await rejection(fetchFrom(s, { timeoutMs: 10_000 }))
    expect(Date.now() - started).toBeLessThan(1000)
    expect(error.exitCode).toBe(69)
    expect(error.message).toMatch(/HTTP 404/)
  })

  it.each([400, 405, 301])('gives up at once on a token %i, which no correct client should see', async (status) => {
    const s = await start({ faults: { routes: { token: { status } } } })
    const error = await rejection(fetchFrom(s, { timeoutMs: 10_000 }))
    expect(error.exitCode).toBe(69)
    expect(error.message).toContain(`HTTP ${status}`)
    expect(s.requests).toHaveLength(1)
  })

  it('names the hop limit when the token PUT connects but is never answered', async () => {
    const s = await start({ faults: { routes: { token: { hang: true } } } })
    const started = Date.now()
    const error = await rejection(fetchFrom(s, { timeoutMs: 1500 }))
    const elapsed = Date.now() - started
    // It keeps trying until the deadline, and stops there.
    expect(elapsed).toBeGreaterThanOrEqual(1200)
    expect(elapsed).toBeLessThan(2500)
    expect(error.exitCode).toBe(69)
    expect(error.message).toMatch(/connected but got no answer/)
    expect(error.hint).toMatch(/HttpPutResponseHopLimit/)
    expect(error.hint).toMatch(/--http-put-response-hop-limit 2/)
    expect(s.requests.filter((r) => r.method === 'GET')).toEqual([])
  })

  it('survives a body that stalls after the headers, and retries', async () => {
    const s = await start({ faults: { routes: { pkcs7: { stallBody: true, times: 1 } } } })
    const started = Date.now()
    const identity = await fetchFrom(s)
    expect(identity.signature).toBe(s.pkcs7)
    expect(Date.now() - started).toBeLessThan(1500)
    expect(s.requests.filter((r) => r.route === 'pkcs7')).toHaveLength(2)
  })

  it('ends within the deadline when every body stalls', async () => {
    const s = await start({ faults: { routes: { document: { stallBody: true } } } })
    const started = Date.now()
    const error = await rejection(fetchFrom(s, { timeoutMs: 1000 }))
    expect(Date.now() - started).toBeLessThan(2000)
    expect(error.exitCode).toBe(69)
    expect(error.message).toMatch(/did not finish in time/)
  })

  it('waits out slow headers that are within the per-request timeout', async () => {
    const s = await start({ faults: { routes: { document: { delayMs: 150 } } } })
    await expect(fetchFrom(s)).resolves.toBeTruthy()
    expect(s.requests.filter((r) => r.route === 'document')).toHaveLength(1)
  })

  it('retries headers slower than the per-request timeout', async () => {
    const s = await start({ faults: { routes: { document: { delayMs: 600, times: 1 } } } })
    await expect(fetchFrom(s)).resolves.toBeTruthy()
    expect(s.requests.filter((r) => r.route === 'document')).toHaveLength(2)
  })

  it('retries connection resets', async () => {
    const s = await start({ faults: { routes: { token: { reset: true, times: 2 } } } })
    await expect(fetchFrom(s)).resolves.toBeTruthy()
    expect(s.requests.filter((r) => r.method === 'PUT')).toHaveLength(3)
  })

  it('uses a service that starts listening late within about a second', async () => {
    const s = await start({ listenAfterMs: 1200 })
    const identity = await fetchFrom(s, { timeoutMs: 10_000 })
    const done = Date.now()
    expect(identity.document).toBe(s.document)
    expect(done - s.listeningSince()!).toBeLessThan(1100)
  })

  it('says it is still waiting, naming what it last saw', async () => {
    lines.length = 0
    const s = await start({ faults: { routes: { document: { status: 503 } } } })
    await rejection(fetchFrom(s, { timeoutMs: 1200, progressEveryMs: 400 }))
    expect(lines.filter((l) => l.startsWith('info still waiting for IMDS')).length).toBeGreaterThanOrEqual(1)
    expect(lines.join('\n')).toMatch(/still waiting for IMDS at .*: the request for the identity document got HTTP 503/)
  })

  it.each([
    ['an empty document', { document: { body: '' } }, /document is empty/],
    ['an invalid document', { document: { body: '{"instanceId":' } }, /not valid JSON/],
    ['a document without accountId', { document: { body: '{"instanceId":"i-1","region":"r"}' } }, /lacks accountId/],
    ['an empty PKCS7', { pkcs7: { body: '' } }, /signature is empty/],
    ['a PKCS7 that is not base64', { pkcs7: { body: '<html>captive portal</html>' } }, /not base64/],
    ['a PKCS7 that is an empty SEQUENCE', { pkcs7: { body: 'MAA=' } }, /not a well-formed PKCS7 SignedData/],
  ])('retries %s and exits 65 at the deadline', async (_, routes, reason) => {
    const s = await start({ faults: { routes } })
    const error = await rejection(fetchFrom(s, { timeoutMs: 700 }))
    expect(error.exitCode).toBe(65)
    expect(error.message).toMatch(reason)
    expect(s.requests.filter((r) => r.method === 'PUT').length).toBeGreaterThan(1)
  })

  it.each([
    ['token', 'token'],
    ['document', 'document'],
    ['pkcs7', 'signature'],
  ] as const)('cuts off a %s response larger than 64 KiB, retries it, and exits 65 by the deadline', async (route, phase) => {
    const s = await start({ faults: { routes: { [route]: { oversizedBytes: 1024 * 1024 } } } })
    const started = Date.now()
    // A deadline long enough for a retry on a loaded machine; the point is the retry and the end.
    const error = await rejection(fetchFrom(s, { timeoutMs: 2500 }))
    expect(Date.now() - started).toBeLessThan(6000)
    expect(error.exitCode).toBe(65)
    expect(error.message).toContain(`the ${phase} response is larger than 64 KiB`)
    expect(s.requests.filter((r) => r.route === route).length).toBeGreaterThan(1)
  })

  it('takes a body just under the cap as it is', async () => {
    const s = await start({ faults: { routes: { pkcs7: { oversizedBytes: 60 * 1024 } } } })
    const error = await rejection(fetchFrom(s, { timeoutMs: 700 }))
    expect(error.exitCode).toBe(65)
    expect(error.message).not.toContain('larger than')
  })

  it('recovers when bad bodies turn good', async () => {
    const s = await start({ faults: { routes: { document: { body: '', times: 2 } } } })
    await expect(fetchFrom(s)).resolves.toMatchObject({ instanceId: 'i-0123456789abcdef0' })
  })

  it('exits 69 quickly with a clear reason when nothing listens', async () => {
    const s = await start()
    const url = s.url
    await s.close()
    sim = undefined
    const started = Date.now()
    const error = await rejection(fetchIdentity({ endpoint: `${url}/`, signature: 'pkcs7', timeoutMs: 700, attemptTimeoutMs: 300, log }))
    expect(Date.now() - started).toBeLessThan(1500)
    expect(error.exitCode).toBe(69)
    expect(error.message).toMatch(/connection refused/)
  })

  it('speaks to an IPv6 loopback endpoint', async () => {
    const s = await start({ host: '::1' })
    expect(s.url).toMatch(/^http:\/\/\[::1\]:/)
    await expect(fetchFrom(s)).resolves.toBeTruthy()
  })

  it('leaves no socket behind that would keep the process alive', async () => {
    const s = await start({ faults: { routes: { document: { stallBody: true, times: 1 } } } })
    await fetchFrom(s)
    const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles()
    const clientSockets = handles.filter((h) => h?.constructor?.name === 'Socket' && (h as { remotePort?: number }).remotePort === s.port)
    expect(clientSockets).toEqual([])
  })
})

describe("classification does not depend on the SDK's wording", () => {
  // Every SDK failure reworded: what the client saw on the wire must still tell the classes apart.
  const reworded = () => {
    for (const method of ['fetchMetadataToken', 'request'] as const) {
      const original = MetadataService.prototype[method] as (...args: unknown[]) => Promise<string>
      vi.spyOn(MetadataService.prototype, method).mockImplementation(function (this: MetadataService, ...args: unknown[]) {
        return original.apply(this, args).catch(() => {
          throw new Error('the SDK said something else')
        })
      })
    }
  }
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('names the hop limit on a token PUT that connects but is never answered', async () => {
    reworded()
    const s = await start({ faults: { routes: { token: { hang: true } } } })
    const error = await rejection(fetchFrom(s, { timeoutMs: 1000 }))
    expect(error.exitCode).toBe(69)
    expect(error.message).toMatch(/the token request \(PUT latest\/api\/token\) connected but got no answer in time$/)
    expect(error.hint).toMatch(/--http-put-response-hop-limit 2/)
  })

  it.each([
    ['token', 403, /--http-endpoint enabled/],
    ['document', 404, /does not serve this path/],
    ['pkcs7', 403, /instance metadata options/],
  ] as const)('gives up at once on a %s %i', async (route, status, hint) => {
    reworded()
    const s = await start({ faults: { routes: { [route]: { status } } } })
    const started = Date.now()
    const error = await rejection(fetchFrom(s, { timeoutMs: 10_000 }))
    expect(Date.now() - started).toBeLessThan(1000)
    expect(error.exitCode).toBe(69)
    expect(error.message).toContain(`got HTTP ${status}`)
    expect(error.hint).toMatch(hint)
  })

  it('names a refused connection and a reset', async () => {
    reworded()
    const s = await start({ faults: { routes: { document: { reset: true } } } })
    lines.length = 0
    const reset = await rejection(fetchFrom(s, { timeoutMs: 500 }))
    expect(reset.message).toMatch(/the request for the identity document was cut off: connection reset$/)
    const url = s.url
    await s.close()
    sim = undefined
    const refused = await rejection(fetchIdentity({ endpoint: `${url}/`, signature: 'pkcs7', timeoutMs: 500, attemptTimeoutMs: 300, log }))
    expect(refused.message).toMatch(/the token request \(PUT latest\/api\/token\) could not connect: connection refused$/)
  })

  it('names a connection that is never accepted as a connect timeout, not the hop limit', async () => {
    reworded()
    // A listener whose accept queue is full: further SYNs are dropped, so connecting hangs. Its
    // process blocks after listening, so nothing is ever accepted.
    const listener = spawn(
      process.execPath,
      [
        '-e',
        "const s=require('net').createServer().listen({port:0,host:'127.0.0.1',backlog:1},()=>{process.stdout.write(s.address().port+'\\n');Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0)})",
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    const fillers: Socket[] = []
    try {
      const port = Number(await new Promise<string>((resolve) => listener.stdout!.once('data', (d: Buffer) => resolve(d.toString()))))
      // Fill the queue (backlog 1 holds two connections; Node takes a backlog of 0 as its default).
      for (let i = 0; i < 4; i++) fillers.push(connect(port, '127.0.0.1').on('error', () => {}))
      await Promise.all(fillers.slice(0, 2).map((socket) => new Promise((resolve) => socket.once('connect', resolve))))
      const error = await rejection(
        fetchIdentity({ endpoint: `http://127.0.0.1:${port}/`, signature: 'pkcs7', timeoutMs: 800, attemptTimeoutMs: 300, log }),
      )
      expect(error.exitCode).toBe(69)
      expect(error.message).toMatch(/the token request \(PUT latest\/api\/token\) could not connect in time$/)
      expect(error.hint).not.toMatch(/hop-limit/)
    } finally {
      for (const socket of fillers) socket.destroy()
      listener.kill('SIGKILL')
    }
  })
})
