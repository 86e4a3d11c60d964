// `iid-docker-auth verify` as its callers run it. ext_auth exactly as docker_auth calls it
// (cesanta/docker_auth auth_server/authn/ext_auth.go: `fmt.Sprintf("%s %s", user, password)` on stdin,
// no newline, stdin closed; only the exit status read: 0 allowed, 1 denied, 2 no match, else error);
// the HTTP mode as nginx's auth_request asks it; the running check against a loopback EC2 stand-in.
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ImdsSimulator, signingCertificates, startImdsSimulator } from '../../sim/imds-simulator.js'
import { type Ec2Stand, startEc2Stand } from '../support/ec2-api.js'
import { cliPath, runCli } from '../support/helpers.js'
import { startVerifyServer } from '../support/verify-server.js'

const certs = signingCertificates()
const user = 'instance-identity-document'
const trust = ['--certs', certs.pkcs7, '--certs', certs.rsa2048]
const allow = ['--allow-account', '123456789012']
let sim: ImdsSimulator
let ec2: Ec2Stand
beforeAll(async () => {
  sim = await startImdsSimulator()
  ec2 = await startEc2Stand()
})
afterAll(async () => {
  await sim.close()
  await ec2.close()
})

const extAuth = (input: string, ...args: string[]) => runCli(['verify', ...trust, ...args], { input, timeoutMs: 20_000 })
const scratch = mkdtempSync(join(tmpdir(), 'verify-cli-'))
const fifo = join(scratch, 'certs.pem')
execFileSync('mkfifo', [fifo])
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

describe('ext_auth (docker_auth)', () => {
  it('0 for a verified credential of either kind, lines or one line', async () => {
    for (const password of [sim.pkcs7, sim.rsa2048.replace(/\n/g, '')]) {
      const run = await extAuth(`${user} ${password}`, ...allow)
      expect(run.code).toBe(0)
      expect(run.stderr).toMatch(/allowed account 123456789012 instance i-0123456789abcdef0 region eu-central-1/)
    }
  })

  it('2 for another user name, silently; 1 for our name without a password', async () => {
    const other = await extAuth(`admin ${sim.pkcs7}`, ...allow)
    expect(other).toMatchObject({ code: 2, stderr: '' })
    expect((await extAuth(user, ...allow)).code).toBe(1)
  })

  it('1 with one reason line for a refused credential, never echoing it', async () => {
    const run = await extAuth(`${user} ${sim.pkcs7}`, '--allow-account', '210987654321')
    expect(run.code).toBe(1)
    expect(run.stderr.trim().split('\n')).toHaveLength(1)
    expect(run.stderr).toMatch(/denied account 123456789012 .*: account 123456789012 is not allowed/)
    const tampered = await extAuth(`${user} ${sim.pkcs7.slice(0, 200)}`, ...allow)
    expect(tampered.code).toBe(1)
    expect(tampered.stderr).toMatch(/denied \(ext_auth\): /)
  })

  it('1 for a 10 MB password, read no further than the bound', async () => {
    const run = await extAuth(`${user} ${'A'.repeat(10 * 1024 * 1024)}`, ...allow)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/over 65536 bytes/)
  })

  it('3 for a configuration that cannot be used', async () => {
    expect((await extAuth(`${user} ${sim.pkcs7}`)).stderr).toMatch(/--allow-account ID/)
    for (const args of [
      [],
      ['--certs', '/nonexistent.pem', ...allow],
      ['--allow-account', '12'],
      ['--bogus', ...allow],
      [...allow, '--max-age', 'ever'],
      ['--certs', fifo, ...allow],
      ['--certs', '/dev/zero', ...allow],
      [...allow, '--check-running', '--ec2-endpoint', 'notaurl'],
      [...allow, '--username', 'a b'],
    ]) {
      const run = await extAuth(`${user} ${sim.pkcs7}`, ...args)
      expect(run.code, args.join(' ')).toBe(3)
      // A configuration error, with its fix, not "a bug".
      if (args.length > 0 && args[0] !== '--bogus') expect(run.stderr, args.join(' ')).toMatch(/fix: /)
      expect(run.stderr).not.toMatch(/a bug/)
    }
  })

  it('3 when stdin is never closed, within its deadline', async () => {
    const child = spawn(process.execPath, [cliPath, 'verify', ...allow], { stdio: ['pipe', 'ignore', 'pipe'] })
    child.stdin.write(`${user} `)
    const code = await new Promise((resolve) => child.on('exit', resolve))
    expect(code).toBe(3)
  }, 15_000)
})

describe('--check-running against the EC2 API stand-in', () => {
  const env = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'fake-secret', AWS_EC2_METADATA_DISABLED: 'true' }
  const running = (input: string) => runCli(['verify', ...trust, ...allow, '--check-running', '--ec2-endpoint', ec2.url], { input, env })

  it('allows a running instance, denies a stopped or unknown one', async () => {
    ec2.set({ instanceId: 'i-0123456789abcdef0', ownerId: '123456789012', state: 'running' })
    expect((await running(`${user} ${sim.pkcs7}`)).code).toBe(0)
    ec2.set({ instanceId: 'i-0123456789abcdef0', ownerId: '123456789012', state: 'stopped' })
    const stopped = await running(`${user} ${sim.pkcs7}`)
    expect(stopped.code).toBe(1)
    expect(stopped.stderr).toMatch(/instance i-0123456789abcdef0 is stopped, not running/)
    ec2.set({ instanceId: 'i-0123456789abcdef0', ownerId: '999999999999', state: 'running' })
    expect((await running(`${user} ${sim.pkcs7}`)).stderr).toMatch(/belongs to another account/)
    expect(ec2.calls.length).toBeGreaterThanOrEqual(3)
    expect(ec2.calls.every((c) => c.action === 'DescribeInstances' && c.signed && c.instanceIds[0] === 'i-0123456789abcdef0')).toBe(true)
  })

  it('denies when the API does not know the instance or cannot be reached', async () => {
    const other = await startImdsSimulator({ document: { instanceId: 'i-0fedcba9876543210' } })
    try {
      expect((await running(`${user} ${other.pkcs7}`)).stderr).toMatch(/not known to the EC2 API/)
    } finally {
      await other.close()
    }
    const down = await runCli(['verify', ...trust, ...allow, '--check-running', '--ec2-endpoint', 'http://127.0.0.1:9'], {
      input: `${user} ${sim.pkcs7}`,
      env,
    })
    expect(down.code).toBe(1)
    expect(down.stderr).toMatch(/could not confirm/)
  })

  it('with --cache-size 0, asks EC2 at every login: a terminated instance is refused at once', async () => {
    ec2.set({ instanceId: 'i-0123456789abcdef0', ownerId: '123456789012', state: 'running' })
    const server = await startVerifyServer([...trust, ...allow, '--check-running', '--ec2-endpoint', ec2.url, '--cache-size', '0'], env)
    try {
      expect((await get(`${server.url}/auth`, basic(user, sim.pkcs7))).status).toBe(200)
      ec2.set({ instanceId: 'i-0123456789abcdef0', ownerId: '123456789012', state: 'terminated' })
      expect((await get(`${server.url}/auth`, basic(user, sim.pkcs7))).status).toBe(403)
    } finally {
      server.child.kill('SIGTERM')
    }
  })

  it('names why EC2 could not answer: no credentials', async () => {
    const run = await runCli(['verify', ...trust, ...allow, '--check-running', '--ec2-endpoint', ec2.url], {
      input: `${user} ${sim.pkcs7}`,
      env: { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_EC2_METADATA_DISABLED: 'true', HOME: scratch },
    })
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/no AWS credentials found/)
  })

  it('denies by its deadline when the API never answers, and asks again on the next request', async () => {
    ec2.set({ instanceId: 'i-0123456789abcdef0', ownerId: '123456789012', state: 'running' })
    ec2.hang = true
    const silent = await running(`${user} ${sim.pkcs7}`)
    expect(silent.code).toBe(1)
    expect(silent.stderr).toMatch(/could not confirm/)
    expect(silent.stderr.trim().split('\n')).toHaveLength(1)
    const server = await startVerifyServer([...trust, ...allow, '--check-running', '--ec2-endpoint', ec2.url], env)
    try {
      expect((await get(`${server.url}/auth`, basic(user, sim.pkcs7))).status).toBe(403)
      ec2.hang = false
      expect((await get(`${server.url}/auth`, basic(user, sim.pkcs7))).status).toBe(200)
    } finally {
      ec2.hang = false
      server.child.kill('SIGTERM')
    }
  }, 40_000)
})

function get(url: string, headers: Record<string, string> = {}, method = 'GET', body?: string) {
  return new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` })

describe('--listen (nginx auth_request)', () => {
  it('answers 200 with the identity headers, 401 with a challenge, 403 refused; health; drains on SIGTERM', async () => {
    const server = await startVerifyServer([...trust, ...allow, '--realm', 'test registry'])
    try {
      expect((await get(`${server.url}/healthz`)).status).toBe(200)
      const none = await get(`${server.url}/auth`)
      expect(none.status).toBe(401)
      expect(none.headers['www-authenticate']).toBe('Basic realm="test registry"')
      expect((await get(`${server.url}/auth`, basic('admin', 'secret'))).status).toBe(401)
      const ok = await get(`${server.url}/auth`, basic(user, sim.pkcs7))
      expect(ok.status).toBe(200)
      expect(ok.headers).toMatchObject({
        'x-iid-account': '123456789012',
        'x-iid-instance-id': 'i-0123456789abcdef0',
        'x-iid-region': 'eu-central-1',
      })
      expect((await get(`${server.url}/auth`, basic(user, sim.rsa2048.slice(0, 300)))).status).toBe(403)
      expect((await get(`${server.url}/auth`, basic(user, sim.pkcs7), 'POST')).status).toBe(405)
      expect((await get(`${server.url}/auth`, { ...basic(user, sim.pkcs7), 'content-length': '3' }, 'GET', 'abc')).status).toBe(413)
      expect((await get(`${server.url}/auth`, { 'x-big': 'a'.repeat(20_000) })).status).toBe(431)
    } finally {
      server.child.kill('SIGTERM')
    }
    const code = await new Promise((resolve) => server.child.on('exit', resolve))
    expect(code).toBe(0)
    expect(server.stderr()).toMatch(/SIGTERM: draining/)
    for (const line of sim.pkcs7.split('\n')) expect(server.stderr()).not.toContain(line)
  })

  it('refuses --max-connections 0, which Node would read as no limit', async () => {
    const run = await runCli(['verify', ...trust, ...allow, '--listen', '127.0.0.1:0', '--max-connections', '0'])
    expect(run.code).toBe(3)
    expect(run.stderr).toMatch(/--max-connections must be at least 1/)
  })

  it('an idle connection does not hold a --max-connections slot for long', async () => {
    const server = await startVerifyServer([...trust, ...allow, '--max-connections', '1'])
    try {
      const idle = connect(Number(new URL(server.url).port), '127.0.0.1')
      const closed = new Promise<void>((resolve) => idle.on('close', () => resolve()))
      idle.resume() // read what the server says (its 408), so that its close is seen
      idle.on('error', () => {})
      await closed
      expect((await get(`${server.url}/auth`, basic(user, sim.pkcs7))).status).toBe(200)
    } finally {
      server.child.kill('SIGTERM')
    }
  }, 15_000)
})
