// The registry side's bench (issue 21), part of npm run bench and runnable alone
// (node scripts/bench-verify.mjs after a build): verifications per second for distinct credentials
// (the cache off: every call parses and verifies) and cached ones, DSA and RSA, on one core; then
// `verify --listen` under autocannon, at its most and at a fixed 1,000 requests/s for p99.
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

async function perSecond(fn, ms = 1500) {
  for (let i = 0; i < 50; i++) await fn(i) // warm up
  let n = 0
  const started = performance.now()
  while (performance.now() - started < ms) await fn(n++)
  return (n * 1000) / (performance.now() - started)
}

export async function benchVerify() {
  const { startImdsSimulator, signingCertificates } = await import(join(root, 'dist', 'sim', 'imds-simulator.js'))
  const { readFileSync } = await import('node:fs')
  const lib = await import(join(root, 'dist', 'verify.cjs')).then((m) => m.default ?? m)
  const certs = signingCertificates()
  const sims = await Promise.all(
    Array.from({ length: 8 }, (_, i) => startImdsSimulator({ document: { instanceId: `i-0${String(i).padStart(16, '0')}` } })),
  )
  const keys = [
    ...lib.parsePemCertificates(readFileSync(certs.pkcs7, 'utf8'), 'test'),
    ...lib.parsePemCertificates(readFileSync(certs.rsa2048, 'utf8'), 'test'),
  ]
  const trust = lib.createTrustStore({ extra: keys })
  const policy = lib.createPolicy({ accounts: ['123456789012'] })
  const user = 'instance-identity-document'
  const uncached = lib.createVerifier({ trust, policy, cache: { maxEntries: 0, ttlMs: 0 } })
  const cached = lib.createVerifier({ trust, policy })
  const result = {}
  for (const kind of ['pkcs7', 'rsa2048']) {
    const passwords = sims.map((s) => s[kind])
    result[`distinct ${kind}`] = await perSecond(async (i) => {
      const v = await uncached.verify(user, passwords[i % passwords.length])
      if (v.outcome !== 'allowed') throw new Error(`bench: ${v.reason}`)
    })
    result[`cached ${kind}`] = await perSecond((i) => cached.verify(user, passwords[i % passwords.length]))
  }

  const child = spawn(
    process.execPath,
    [
      join(root, 'bin', 'iid-docker-auth.cjs'),
      'verify',
      '--listen',
      '127.0.0.1:0',
      '--quiet',
      '--allow-account',
      '123456789012',
      '--certs',
      certs.pkcs7,
      '--certs',
      certs.rsa2048,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  const url = await new Promise((resolve, reject) => {
    let text = ''
    child.stderr.on('data', (d) => {
      text += d
      const m = /listening on (\S+)/.exec(text)
      if (m) resolve(m[1])
    })
    child.on('exit', () => reject(new Error(`bench: verify --listen exited: ${text}`)))
  })
  const requests = sims.map((s) => ({
    method: 'GET',
    path: '/auth',
    headers: { authorization: `Basic ${Buffer.from(`${user}:${s.pkcs7}`).toString('base64')}` },
  }))
  const run = (opts) =>
    new Promise((resolve, reject) => autocannon({ url, requests, duration: 5, ...opts }, (err, r) => (err ? reject(err) : resolve(r))))
  const most = await run({ connections: 32, pipelining: 1 })
  const fixed = await run({ connections: 8, overallRate: 1000 })
  child.kill('SIGTERM')
  await new Promise((r) => child.once('exit', r))
  for (const s of sims) await s.close()
  const non2xx = most.non2xx + fixed.non2xx + most.errors + fixed.errors
  return { ...result, httpMost: most.requests.average, httpFixedRate: fixed.requests.average, httpP99: fixed.latency.p99, non2xx }
}

/** Table rows and pass/fail checks, for bench.mjs. */
export function verifyRows(r, target) {
  const f = (n) => n.toFixed(0)
  return [
    `| verify, distinct credentials, DSA (pkcs7), one core | ${f(r['distinct pkcs7'])}/s | ${target(r['distinct pkcs7'] >= 1000, '>= 1,000/s')} |`,
    `| verify, distinct credentials, RSA (rsa2048), one core | ${f(r['distinct rsa2048'])}/s | ${target(r['distinct rsa2048'] >= 1000, '>= 1,000/s')} |`,
    `| verify, cached, DSA / RSA | ${f(r['cached pkcs7'])}/s / ${f(r['cached rsa2048'])}/s | |`,
    `| verify --listen, cached, 32 connections | ${f(r.httpMost)} req/s | ${target(r.httpMost >= 5000, '>= 5,000 req/s')} |`,
    `| verify --listen at 1,000 req/s (8 connections): p99 | ${r.httpP99} ms (${f(r.httpFixedRate)} req/s) | ${target(r.httpP99 <= 10, '<= 10 ms')} |`,
    `| verify --listen answers that were not 200 | ${r.non2xx} | ${target(r.non2xx === 0, 'none')} |`,
  ]
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await benchVerify()
  const rows = verifyRows(r, (ok, text) => `${ok ? 'ok' : 'MISSED'}: ${text}`)
  console.log(`| verify target | measured | verdict |\n| --- | --- | --- |\n${rows.join('\n')}`)
}
