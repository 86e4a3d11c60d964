// Preloaded (node --require) into a CLI that a test spawns: fetch may reach loopback only. Every URL
// asked is appended to $LOOPBACK_GUARD_LOG; any other is refused before a connection is made, so a
// test can show that something would have been sent without anything leaving the machine.
const { appendFileSync } = require('node:fs')

const realFetch = globalThis.fetch
globalThis.fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input))
  if (process.env.LOOPBACK_GUARD_LOG) appendFileSync(process.env.LOOPBACK_GUARD_LOG, `${url.href}\n`)
  if (!/^(127\.\d+\.\d+\.\d+|\[::1\])$/.test(url.hostname))
    return Promise.reject(new TypeError(`loopback guard: ${url.host} is not loopback; not sent`))
  return realFetch(input, init)
}
