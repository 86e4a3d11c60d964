// Response size limits on the wire (src/imds/wire.ts), judged per response on a kept-alive socket.
import { describe, expect, it } from 'vitest'
import { Agent, createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { limitResponses } from '../../src/imds/wire.js'

describe('limitResponses', () => {
  it('judges each response on a kept-alive socket by itself, and cuts off the one over the limit', async () => {
    const server = createServer((req, res) => res.end('x'.repeat(req.url === '/big' ? 1_000_000 : 40_000)))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const get = (path: string) =>
      new Promise<{ bytes: number; port: number } | Error>((resolve) => {
        const req = request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path, agent }, (res) => {
          let bytes = 0
          res.on('data', (chunk: Buffer) => (bytes += chunk.length))
          res.on('end', () => resolve({ bytes, port: req.socket!.localPort! }))
          res.on('error', resolve)
        })
        req.on('error', resolve)
        req.end()
      })
    const limit = limitResponses(64 * 1024)
    try {
      const first = await get('/a')
      const second = await get('/b')
      expect(first).toMatchObject({ bytes: 40_000 })
      expect(second).toMatchObject({ bytes: 40_000, port: (first as { port: number }).port }) // the same socket
      const big = await get('/big')
      expect(big instanceof Error || big.bytes < 1_000_000, 'cut off').toBe(true)
      expect([...limit.tooLarge]).toEqual(['/big'])
    } finally {
      limit.stop()
      agent.destroy()
      server.close()
    }
  })
})
