// The namespace side of test/support/boot.ts's relays: listens on each TCP address given (inside
// the network namespace it was started in) and pipes every connection to its unix socket.
const net = require('node:net')

const spec = JSON.parse(process.argv[2])
let listening = 0
for (const { host, port, socket } of spec) {
  const server = net.createServer((client) => {
    const upstream = net.connect(socket)
    client.pipe(upstream).pipe(client)
    for (const s of [client, upstream]) s.on('error', () => [client, upstream].forEach((x) => x.destroy()))
  })
  server.listen(port, host, () => {
    if (++listening === spec.length) process.stdout.write('relaying\n')
  })
}
