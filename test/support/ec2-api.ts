// A loopback stand-in for the EC2 API's query protocol, as much as `verify --check-running` uses:
// POST / with Action=DescribeInstances&InstanceId.N=..., answered with EC2's XML, or its error
// document for an instance it does not know. The SDK reaches it through --ec2-endpoint with fake
// static credentials; it checks nothing about the signature but that one is there.
import { type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Ec2Instance {
  readonly instanceId: string
  readonly ownerId: string
  readonly state: 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated'
}

export interface Ec2Stand {
  readonly url: string
  /** The actions asked, with the instance IDs, in order. */
  readonly calls: Array<{ action: string; instanceIds: string[]; signed: boolean }>
  set(instance: Ec2Instance): void
  /** While true, requests are read and never answered (an API that has gone silent). */
  hang: boolean
  close(): Promise<void>
}

const stateCodes = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 } as const
const ns = 'http://ec2.amazonaws.com/doc/2016-11-15/'

function describe(found: Ec2Instance[]): string {
  const items = found.map(
    (i) =>
      `<item><reservationId>r-0123456789abcdef0</reservationId><ownerId>${i.ownerId}</ownerId><groupSet/>` +
      `<instancesSet><item><instanceId>${i.instanceId}</instanceId><instanceState><code>${stateCodes[i.state]}</code>` +
      `<name>${i.state}</name></instanceState></item></instancesSet></item>`,
  )
  return `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse xmlns="${ns}"><requestId>11111111-2222-3333-4444-555555555555</requestId><reservationSet>${items.join('')}</reservationSet></DescribeInstancesResponse>`
}

const notFound = (id: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code>` +
  `<Message>The instance ID '${id}' does not exist</Message></Error></Errors><RequestID>11111111-2222-3333-4444-555555555555</RequestID></Response>`

export async function startEc2Stand(): Promise<Ec2Stand> {
  const instances = new Map<string, Ec2Instance>()
  const calls: Ec2Stand['calls'] = []
  const stand = { hang: false }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
      const action = form.get('Action') ?? ''
      const ids = [...form.entries()].filter(([k]) => /^InstanceId\.[0-9]+$/.test(k)).map(([, v]) => v)
      calls.push({ action, instanceIds: ids, signed: /^AWS4-HMAC-SHA256 /.test(req.headers.authorization ?? '') })
      if (stand.hang) return
      const reply = (status: number, body: string): void => {
        res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8', 'content-length': Buffer.byteLength(body) })
        res.end(body)
      }
      if (action !== 'DescribeInstances') return reply(400, notFound('none'))
      const missing = ids.find((id) => !instances.has(id))
      if (missing !== undefined) return reply(400, notFound(missing))
      reply(200, describe(ids.map((id) => instances.get(id)!)))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return Object.assign(stand, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    set: (instance: Ec2Instance) => void instances.set(instance.instanceId, instance),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  })
}
