// Runs the IMDS simulator as a process: `node dist/sim/serve.js --host H --port P [--fault ROUTE=STATUS ...]`.
// With --record DIR it writes the bodies it serves (DIR/pkcs7, DIR/rsa2048) at start and the tokens it
// issued (DIR/tokens) at exit, so a test can search logs for them. Prints one line `listening <url>` when ready and serves until SIGTERM. The boot test starts it
// inside a network namespace of its own, on 169.254.169.254 bound to that namespace's loopback.

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { type ImdsRoute, type RouteFault, startImdsSimulator } from './imds-simulator.js'

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    fault: { type: 'string', multiple: true, default: [] },
    record: { type: 'string' },
  },
})

const routes: Partial<Record<ImdsRoute, RouteFault>> = {}
for (const fault of values.fault) {
  const [route, status] = fault.split('=')
  if (!['token', 'document', 'pkcs7', 'rsa2048'].includes(route ?? '') || !/^\d{3}$/.test(status ?? '')) {
    process.stderr.write(`serve: --fault ${fault}: expected ROUTE=STATUS with ROUTE token, document, pkcs7 or rsa2048\n`)
    process.exit(64)
  }
  routes[route as ImdsRoute] = { status: Number(status) }
}

const sim = await startImdsSimulator({ host: values.host, port: Number(values.port), faults: { routes } })
const record = values.record
if (record !== undefined) {
  writeFileSync(join(record, 'pkcs7'), sim.pkcs7)
  writeFileSync(join(record, 'rsa2048'), sim.rsa2048)
}
process.stdout.write(`listening ${sim.url}\n`)
const stop = (): void => {
  if (record !== undefined) writeFileSync(join(record, 'tokens'), sim.issuedTokens().join('\n'))
  void sim.close().then(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
