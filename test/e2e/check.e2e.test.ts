// `check` through the built CLI, against the IMDS simulator, real files, and (for --probe) the real
// registry with token auth. Also the journald priority prefixes and the --json schemas.
import { chmodSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { buildAuth } from '../../src/imds/identity.js'
import { startImdsSimulator } from '../../sim/imds-simulator.js'
import { cliPath, haveOrCi, repoRoot, rootOrCi, runCli, useSimulator, useTempDir, validJson } from '../support/helpers.js'
import { type Registry, startRegistry } from '../support/registry.js'

const sim = useSimulator()
let dir: string
let config: string
useTempDir('iid-check-', (d) => {
  dir = d
  config = join(d, 'config.json')
})

interface Check {
  area: string
  verdict: 'ok' | 'warn' | 'fail'
  message: string
  fix: string | null
  exitCode: number | null
}

async function check(args: string[] = [], env: Record<string, string | undefined> = {}) {
  const run = await runCli(
    ['check', '--registry', 'pierone.example.com', '--config', config, '--endpoint', sim.url, '--timeout', '2', '--json', ...args],
    { env },
  )
  const report = validJson(run.stdout, 'check') as { exitCode: number; checks: Check[] }
  expect(run.code).toBe(report.exitCode)
  return { run, report, find: (area: string, pattern: RegExp) => report.checks.find((c) => c.area === area && pattern.test(c.message)) }
}

const write = (...args: string[]) => runCli(['--registry', 'pierone.example.com', '--config', config, '--endpoint', sim.url, ...args])

describe('check', () => {
  it('reports all ok for a current entry, and writes nothing', async () => {
    expect((await write()).code).toBe(0)
    const before = readFileSync(config)
    const { run, report, find } = await check()
    expect(report.exitCode).toBe(0)
    expect(report.checks.every((c) => c.verdict === 'ok')).toBe(true)
    expect(find('imds', /IMDSv2 token \(TTL 60 s\) and identity in \d+ ms/)).toBeTruthy()
    expect(find('identity', /instance i-0123456789abcdef0, account 123456789012, region eu-central-1, zone eu-central-1a/)).toBeTruthy()
    expect(find('identity', /PKCS7: base64 of \d+ bytes of ASN\.1, embeds the served document/)).toBeTruthy()
    expect(find('config', /\(from --config\)/)).toBeTruthy()
    // The file was written by this test's own user: root in CI, anyone else on a workstation.
    expect(find('config', new RegExp(`mode 0600, owner ${process.getuid!()}:${process.getgid!()}, parses`))).toBeTruthy()
    expect(find('config', /the entry for pierone\.example\.com is current/)).toBeTruthy()
    expect(find('unit', /systemd is not running here/)).toBeTruthy()
    expect(readFileSync(config).equals(before)).toBe(true)
    expect(run.stderr).toMatch(/^ok {4}imds {6}/m)
  })

  it('names the hop limit when the token PUT connects but is never answered', async () => {
    sim.setFaults({ routes: { token: { hang: true } } })
    const { report, find } = await check()
    expect(report.exitCode).toBe(69)
    const line = find('imds', /connected but got no answer/)!
    expect(line.verdict).toBe('fail')
    expect(line.fix).toMatch(/^aws ec2 modify-instance-metadata-options .*--http-put-response-hop-limit 2.*HttpPutResponseHopLimit is 1/)
  })

  it('names IMDS as disabled on a token 403', async () => {
    sim.setFaults({ routes: { token: { status: 403 } } })
    const { report, find } = await check()
    expect(report.exitCode).toBe(69)
    expect(find('imds', /HTTP 403/)!.fix).toMatch(
      /^aws ec2 modify-instance-metadata-options .*--http-endpoint enabled \(IMDS refuses tokens when its endpoint is disabled/,
    )
  })

  it('fails IMDS with exit 65 for a PKCS7 that embeds another document', async () => {
    const confused = await startImdsSimulator({ signedDocument: '{"instanceId":"i-x"}' })
    try {
      const { report, find } = await check(['--endpoint', confused.url, '--timeout', '1'])
      expect(report.exitCode).toBe(65)
      expect(find('imds', /unusable data for 1 s: the PKCS7 signature embeds a different document than the one served/)!.verdict).toBe(
        'fail',
      )
      expect(report.checks.filter((c) => c.area === 'identity')).toEqual([])
    } finally {
      await confused.close()
    }
  })

  it('fails a missing file and a missing entry with the command that fixes them', async () => {
    const missing = await check()
    expect(missing.report.exitCode).toBe(78)
    expect(missing.find('config', /does not exist/)!.fix).toBe(`run iid-docker-auth --registry pierone.example.com --config ${config}`)
    writeFileSync(config, '{"auths":{}}', { mode: 0o600 })
    expect((await check()).find('config', /no entry for pierone\.example\.com/)!.verdict).toBe('fail')
  })

  it('fails a stale entry (another identity, as after an AMI bake)', async () => {
    writeFileSync(
      config,
      JSON.stringify({ auths: { 'pierone.example.com': { auth: buildAuth('instance-identity-document', 'MIIB-the-builder', false) } } }),
      { mode: 0o600 },
    )
    const { report, find } = await check()
    expect(report.exitCode).toBe(78)
    expect(find('config', /is stale/)!.fix).toMatch(/iid-docker-auth remove/)
  })

  it('warns when group or others can read the file', async () => {
    expect((await write()).code).toBe(0)
    chmodSync(config, 0o644)
    const { report, find } = await check()
    expect(report.exitCode).toBe(0)
    expect(find('config', /mode 0644 lets group or others read/)!.fix).toBe(`chmod 600 ${config}`)
  })

  it('fails a config shadowed by credsStore or credHelpers, warns about competing keys, fails an entry Docker cannot load', async () => {
    expect((await write()).code).toBe(0)
    const current = JSON.parse(readFileSync(config, 'utf8'))
    current.credsStore = 'desktop'
    current.credHelpers = { 'pierone.example.com': 'pierone' }
    current.auths['https://pierone.example.com/v1/'] = {}
    current.auths['http://pierone.example.com'] = { auth: buildAuth('instance-identity-document', 'MIIB-older', false) }
    current.auths['broken.example.com'] = { auth: 'bm9jb2xvbg==' }
    writeFileSync(config, JSON.stringify(current))
    const { report, find } = await check()
    expect(report.exitCode).toBe(78)
    expect(find('config', /"credsStore": "desktop" is set, so Docker asks docker-credential-desktop/)!.verdict).toBe('fail')
    expect(find('config', /"credHelpers" names pierone\.example\.com/)!.verdict).toBe('fail')
    const own = find(
      'config',
      /older entries of this tool under other spellings of pierone\.example\.com: "http:\/\/pierone\.example\.com"$/,
    )!
    expect(own.verdict).toBe('warn')
    expect(own.fix).toMatch(/^run iid-docker-auth --registry pierone\.example\.com .*which removes them/)
    const theirs = find(
      'config',
      /auths\["https:\/\/pierone\.example\.com\/v1\/"\] is another spelling of pierone\.example\.com .*\(no usable auth\)/,
    )!
    expect(theirs.verdict).toBe('warn')
    expect(theirs.message).toMatch(/skopeo/)
    expect(theirs.fix).toMatch(/docker logout https:\/\/pierone\.example\.com\/v1\//)
    expect(find('config', /auths\["broken\.example\.com"\] has an "auth" that has no colon/)!.verdict).toBe('fail')
  })

  it('fails an unparsable file with exit 78', async () => {
    writeFileSync(config, '{"auths": [}')
    const { report, find } = await check()
    expect(report.exitCode).toBe(78)
    const line = find('config', /is not valid JSON/)!
    expect(line.verdict).toBe('fail')
    // check changes nothing, so it does not say that it did not.
    expect(line.message).not.toMatch(/nothing was changed/)
  })

  it('reads the unit’s environment file when no registry or config is given', async () => {
    expect((await write()).code).toBe(0)
    // No --registry/--config: the settings come from the environment, as the unit's file would give them.
    const run = await runCli(['check', '--endpoint', sim.url, '--json'], {
      env: { IID_DOCKER_AUTH_REGISTRIES: 'pierone.example.com', IID_DOCKER_AUTH_CONFIG: config },
    })
    const report = validJson(run.stdout, 'check')
    expect(report.registries).toEqual(['pierone.example.com'])
    expect(report.exitCode).toBe(0)
  })

  it('escapes control characters from IMDS in its lines; --json stays JSON', async () => {
    const instanceId = 'i-0\u001b[31mred\u001b[0m\nok    config    forged\u2028\u202e'
    const hostile = await startImdsSimulator({ document: { instanceId } })
    try {
      const run = await runCli(['check', '-r', 'pierone.example.com', '-c', config, '--endpoint', hostile.url])
      expect(run.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u202e]/)
      expect(run.stderr).toContain(
        'ok    identity  instance i-0\\u001b[31mred\\u001b[0m\\u000aok    config    forged\\u2028\\u202e, account',
      )
      expect(run.stderr).not.toMatch(/^ok {4}config {4}forged/m)
      const json = await runCli(['check', '-r', 'pierone.example.com', '-c', config, '--endpoint', hostile.url, '--json'])
      expect(validJson(json.stdout, 'check').identity.instanceId).toBe(instanceId)
    } finally {
      await hostile.close()
    }
  })

  it('prints human lines with the fix under each non-ok line', async () => {
    writeFileSync(config, '{}', { mode: 0o644 })
    const run = await runCli(['check', '-r', 'pierone.example.com', '-c', config, '--endpoint', sim.url])
    expect(run.code).toBe(78)
    expect(run.stdout).toBe('')
    expect(run.stderr).toContain(
      `warn  config    ${config}: mode 0644 lets group or others read the credentials\n                fix: chmod 600 ${config}\n`,
    )
    expect(run.stderr).toMatch(/^fail {2}config {4}.*no entry for pierone\.example\.com$/m)
  })
})

describe.runIf(rootOrCi)('check and the unit’s environment file (in a private mount namespace, never this machine’s)', () => {
  /** Runs check with `text` as /etc/default/iid-docker-auth, bind-mounted over /etc/default for this process only. */
  async function checkWithFile(text: string, env: Record<string, string> = {}) {
    const etcDefault = join(dir, 'etc-default')
    mkdirSync(etcDefault)
    writeFileSync(join(etcDefault, 'iid-docker-auth'), text)
    const prefix = ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/default && exec "$@"', etcDefault]
    const run = await runCli(['check', '--endpoint', sim.url, '--timeout', '2', '--json'], { prefix, env })
    return validJson(run.stdout, 'check') as { registries: string[]; checks: Check[] }
  }

  it('trims the file’s list items and names the file as their source', async () => {
    const other = join(dir, 'other.json')
    expect((await write()).code).toBe(0)
    expect((await write('--config', other)).code).toBe(0)
    const report = await checkWithFile(`IID_DOCKER_AUTH_REGISTRIES="pierone.example.com"\nIID_DOCKER_AUTH_CONFIG="${config}, ${other}"\n`)
    expect(report.registries).toEqual(['pierone.example.com'])
    const sources = report.checks.filter((c) => c.area === 'config' && / \(from /.test(c.message)).map((c) => c.message)
    expect(sources).toEqual([`${config} (from /etc/default/iid-docker-auth:2)`, `${other} (from /etc/default/iid-docker-auth:2)`])
  })

  it('fails a setting the unit would refuse, though check runs on its own deadline; with no registry, says to set one', async () => {
    const missing = join(dir, 'missing', 'config.json')
    const report = await checkWithFile(`IID_DOCKER_AUTH_TIMEOUT=abc\nIID_DOCKER_AUTH_CONFIG=${missing}\n`)
    const refused = report.checks.find((c) => /the unit would refuse/.test(c.message))
    expect(refused).toMatchObject({ verdict: 'fail', exitCode: 64 })
    expect(refused!.message).toMatch(/IID_DOCKER_AUTH_TIMEOUT in \/etc\/default\/iid-docker-auth:1/)
    const absent = report.checks.find((c) => c.message.includes('does not exist'))
    expect(absent!.fix).toBe('set the registries first (see above), then run this check again')
  })

  it('lets the environment win over the file, naming the variable', async () => {
    expect((await write()).code).toBe(0)
    const report = await checkWithFile(
      'IID_DOCKER_AUTH_REGISTRIES=pierone.example.com\nIID_DOCKER_AUTH_CONFIG=/nonexistent/config.json\n',
      { IID_DOCKER_AUTH_CONFIG: ` ${config} ,` },
    )
    expect(report.checks.find((c) => c.area === 'config' && / \(from /.test(c.message))!.message).toBe(
      `${config} (from IID_DOCKER_AUTH_CONFIG)`,
    )
  })
})

describe.runIf(haveOrCi('docker-registry', 'skopeo', 'openssl') && rootOrCi)('check --probe against the real registry', () => {
  let registry: Registry
  beforeAll(async () => {
    registry = await startRegistry({
      signingCertificates: [sim.certificates.pkcs7, sim.certificates.rsa2048],
      allowedAccounts: ['123456789012'],
    })
  })
  afterAll(async () => {
    await registry.close()
  })

  it('reports accepted for this instance’s credential', async () => {
    const run = await runCli(['-r', registry.host, '-c', config, '--endpoint', sim.url])
    expect(run.code).toBe(0)
    const probe = await runCli(['check', '--probe', '-r', registry.host, '-c', config, '--endpoint', sim.url, '--json'])
    const report = validJson(probe.stdout, 'check')
    const line = report.checks.find((c: Check) => c.area === 'probe')
    expect(line).toMatchObject({ verdict: 'ok' })
    expect(line.message).toMatch(
      new RegExp(
        `${registry.host} \\(http://127\\.0\\.0\\.1:\\d+/token.*\\) accepts the entry in ${config}: the token service issued a token`,
      ),
    )
    expect(probe.code).toBe(0)
  })

  it('reports refused with the registry’s own words, exit 77', async () => {
    const stranger = await startImdsSimulator({ document: { accountId: '999999999999' } })
    try {
      const probe = await runCli(['check', '--probe', '-r', registry.host, '-c', config, '--endpoint', stranger.url, '--json'])
      const report = validJson(probe.stdout, 'check')
      const line = report.checks.find((c: Check) => c.area === 'probe')
      expect(line).toMatchObject({ verdict: 'fail', exitCode: 77 })
      expect(line.message).toMatch(/refuses a fresh credential from IMDS \(HTTP 401\): account 999999999999 is not allowed/)
      // The first failure is the missing entry (78); alone, a refusal exits 77.
      expect(probe.code).toBe(78)
      const alone = await runCli(['-r', registry.host, '-c', config, '--endpoint', stranger.url])
      expect(alone.code).toBe(0)
      const again = await runCli(['check', '--probe', '-r', registry.host, '-c', config, '--endpoint', stranger.url])
      expect(again.code).toBe(77)
    } finally {
      await stranger.close()
    }
  })

  it('reports an unreachable registry', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const probe = await runCli(['check', '--probe', '-r', `127.0.0.1:${port}`, '-c', config, '--endpoint', sim.url, '--json'])
    const line = validJson(probe.stdout, 'check').checks.find((c: Check) => c.area === 'probe')
    expect(line).toMatchObject({ verdict: 'fail', exitCode: 69 })
    expect(line.message).toMatch(/is unreachable: .*ECONNREFUSED/)
  })
})

describe('check --probe against a fake registry on loopback', () => {
  // The CLI runs with a guard in front of fetch: it logs every URL asked and refuses any that is not
  // loopback, so a probe that would send the credential off this machine is seen, not sent.
  const guard = join(repoRoot, 'test', 'support', 'loopback-fetch-guard.cjs')
  let server: Server | undefined
  let seen: Array<{ path: string; authorization: string | undefined }>
  afterEach(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    server = undefined
  })

  /** A registry whose /v2/ asks for a token at `realm`. */
  async function registryWithRealm(realm: string): Promise<string> {
    seen = []
    server = createServer((req, res) => {
      seen.push({ path: req.url ?? '', authorization: req.headers.authorization })
      if (req.url === '/v2/') res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="fake"` })
      res.end()
    })
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    return `127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  async function probe(host: string, ...extra: string[]) {
    expect((await runCli(['-r', host, '-c', config, '--endpoint', sim.url])).code).toBe(0)
    const log = join(dir, 'fetched.txt')
    writeFileSync(log, '')
    const run = await runCli(['check', '--probe', '-r', host, '-c', config, '--endpoint', sim.url, ...extra], {
      env: { NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --require ${guard}`, LOOPBACK_GUARD_LOG: log },
    })
    return { run, fetched: readFileSync(log, 'utf8').split('\n').filter(Boolean) }
  }

  it('does not send the credential to a plain-http realm off this machine', async () => {
    const host = await registryWithRealm('http://10.0.0.1/token')
    const { run, fetched } = await probe(host, '--json')
    const line = validJson(run.stdout, 'check').checks.find((c: Check) => c.area === 'probe')
    expect(line).toMatchObject({ verdict: 'fail', exitCode: 69, fix: 'the registry operator must serve its token realm over https' })
    expect(line.message).toBe(
      `${host} (http://${host}/v2/): the token realm "http://10.0.0.1/token" is neither https nor on this machine, so the entry in ${config} was not sent`,
    )
    expect(fetched).toEqual([`https://${host}/v2/`, `http://${host}/v2/`])
    expect(seen).toEqual([{ path: '/v2/', authorization: undefined }])
  })

  it('reports a realm that is not a URL as the registry’s fault (exit 69, not 1), escaped for the terminal', async () => {
    const host = await registryWithRealm('::not a url \u009b2J')
    const { run } = await probe(host)
    expect(run.code).toBe(69)
    expect(run.stderr).toContain(
      `fail  probe     ${host} (http://${host}/v2/): the registry's challenge names the token realm "::not a url \\u009b2J", which is not a URL (the registry's fault); nothing was sent\n`,
    )
    expect(run.stderr).toMatch(/fix: the registry operator must fix the realm in its WWW-Authenticate header/)
    expect(run.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/)
    expect(seen).toEqual([{ path: '/v2/', authorization: undefined }])
  })
})

describe('check --probe against a registry that refuses with hostile words', () => {
  let server: Server | undefined
  afterEach(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    server = undefined
  })

  it('prints the refusal escaped', async () => {
    server = createServer((req, res) => {
      if (req.headers.authorization === undefined) res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end()
      else res.writeHead(401).end(JSON.stringify({ errors: [{ message: 'denied\u001b[2J\u202eevil\u2029ok    probe     forged' }] }))
    })
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`
    expect((await runCli(['-r', host, '-c', config, '--endpoint', sim.url])).code).toBe(0)
    const run = await runCli(['check', '--probe', '-r', host, '-c', config, '--endpoint', sim.url])
    expect(run.code).toBe(77)
    expect(run.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2029\u202e]/)
    expect(run.stderr).toContain('(HTTP 401): denied\\u001b[2J\\u202eevil\\u2029ok    probe     forged\n')
  })
})

describe('journald priority prefixes', () => {
  /** Runs the CLI with stderr going to a file; JOURNAL_STREAM may name that very file. */
  async function withStderrFile(args: string[], journalStream: (dev: bigint, ino: bigint) => string | undefined): Promise<string> {
    const file = join(dir, 'stderr.txt')
    const fd = openSync(file, 'w')
    const { dev, ino } = fstatSync(fd, { bigint: true })
    try {
      const stream = journalStream(dev, ino)
      const env: NodeJS.ProcessEnv = { ...process.env }
      if (stream === undefined) delete env['JOURNAL_STREAM']
      else env['JOURNAL_STREAM'] = stream
      const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: ['ignore', 'ignore', fd] })
      await new Promise((resolve) => child.on('close', resolve))
    } finally {
      closeSync(fd)
    }
    return readFileSync(file, 'utf8')
  }

  const args = () => ['-r', 'pierone.example.com', '-c', config, '--endpoint', sim.url, '--registry', 'user@bad']

  it('prefixes <3> errors, <4> warnings and <6> info when stderr is the journal stream', async () => {
    writeFileSync(config, '{"credsStore":"desktop"}')
    const ok = await withStderrFile(['-r', 'pierone.example.com', '-c', config, '--endpoint', sim.url], (dev, ino) => `${dev}:${ino}`)
    expect(ok).toMatch(/^<4>iid-docker-auth: warning: .*credsStore/m)
    expect(ok).toMatch(/^<6>iid-docker-auth: wrote pierone\.example\.com/m)
    const bad = await withStderrFile(args(), (dev, ino) => `${dev}:${ino}`)
    expect(bad).toMatch(/^<3>iid-docker-auth: error: registry "user@bad" contains credentials/m)
    expect(bad).toMatch(/^<3>iid-docker-auth: fix: /m)
  })

  it('prints no prefix when JOURNAL_STREAM is unset or names another stream', async () => {
    for (const stream of [() => undefined, (dev: bigint, ino: bigint) => `${dev}:${ino + 1n}`]) {
      const text = await withStderrFile(args(), stream)
      expect(text).toMatch(/^iid-docker-auth: error: /m)
      expect(text).not.toMatch(/<\d>/)
    }
  })

  it('prefixes check lines by verdict', async () => {
    writeFileSync(config, '{}', { mode: 0o644 })
    const text = await withStderrFile(
      ['check', '-r', 'pierone.example.com', '-c', config, '--endpoint', sim.url],
      (dev, ino) => `${dev}:${ino}`,
    )
    expect(text).toMatch(/^<6>ok {4}imds/m)
    expect(text).toMatch(/^<4>warn {2}config/m)
    expect(text).toMatch(/^<3>fail {2}config/m)
  })
})
