// The kubelet modes, run as kubelet runs them: the built CLI with a CredentialProviderRequest on
// stdin, against the IMDS simulator. Responses are decoded as strictly as kubelet decodes them
// (k8s.io/kubelet/pkg/apis/credentialprovider/v1). Every run names its own environment file, so
// this machine's /etc/default/iid-docker-auth is never read.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { renderEnvironmentFile } from '../../src/systemd/environment-file.js'
import { type CliRun, expectImdsV2Only, repoRoot, runCli, useSimulator, useTempDir } from '../support/helpers.js'

const sim = useSimulator()
let envFile: string
useTempDir('iid-kubelet-', (d) => {
  envFile = join(d, 'iid-docker-auth.env')
})
afterEach(() => expectImdsV2Only(sim))

const v1 = 'credentialprovider.kubelet.k8s.io/v1'
const v1beta1 = 'credentialprovider.kubelet.k8s.io/v1beta1'
const digest = `sha256:${'0123456789abcdef'.repeat(4)}`
const request = (image: string, apiVersion = v1, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ kind: 'CredentialProviderRequest', apiVersion, image, ...extra })

const provider = (input: string, args: string[] = [], env: Record<string, string | undefined> = {}): Promise<CliRun> =>
  runCli(['kubelet-credential-provider', '--endpoint', sim.url, ...args], {
    input,
    protocolStdout: true,
    env: { IID_DOCKER_AUTH_ENV_FILE: envFile, ...env },
  })

// A strict decoder for CredentialProviderResponse, field by field as the upstream v1 type declares them.
const goDuration = /^(?:0|(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+)$/
const responseFields = ['apiVersion', 'kind', 'cacheKeyType', 'cacheDuration', 'serviceAccountTokenCacheType', 'auth']
function decodeResponse(
  stdout: string,
  apiVersion: string,
): { cacheKeyType: string; cacheDuration?: string; auth?: Record<string, { username: string; password: string }> } {
  expect(stdout.endsWith('\n') && stdout.trim().split('\n').length === 1, 'one JSON line').toBe(true)
  const value = JSON.parse(stdout) as Record<string, unknown>
  expect(typeof value === 'object' && value !== null && !Array.isArray(value)).toBe(true)
  expect(
    Object.keys(value).filter((k) => !responseFields.includes(k)),
    'unknown fields',
  ).toEqual([])
  expect(value['apiVersion'], 'the request’s apiVersion').toBe(apiVersion)
  expect(value['kind']).toBe('CredentialProviderResponse')
  expect(['Image', 'Registry', 'Global']).toContain(value['cacheKeyType'])
  if (value['cacheDuration'] !== undefined) expect(value['cacheDuration']).toMatch(goDuration)
  if (value['serviceAccountTokenCacheType'] !== undefined)
    expect(['ServiceAccount', 'Pod']).toContain(value['serviceAccountTokenCacheType'])
  const auth = value['auth']
  if (auth !== undefined && auth !== null) {
    expect(typeof auth === 'object' && !Array.isArray(auth)).toBe(true)
    for (const entry of Object.values(auth as Record<string, unknown>)) {
      expect(Object.keys(entry as object).sort(), 'an AuthConfig holds exactly username and password').toEqual(['password', 'username'])
      expect(typeof (entry as Record<string, unknown>)['username']).toBe('string')
      expect(typeof (entry as Record<string, unknown>)['password']).toBe('string')
    }
  }
  return value as never
}

/** A failure as kubelet must see it: non-zero, nothing on stdout, exactly one line on stderr. */
function expectFailure(run: CliRun, code: number, message: RegExp): void {
  expect(run.code).toBe(code)
  expect(run.stdout).toBe('')
  expect(run.stderr).toMatch(/^iid-docker-auth: error: [^\n]+\n$/)
  expect(run.stderr).toMatch(message)
}

describe('kubelet-credential-provider: golden requests and responses', () => {
  const registries = ['-r', 'pierone.example.com,reg.example.com:5000,localhost:5000']
  const golden: Array<{ name: string; image: string; key: string | undefined }> = [
    { name: 'a configured host', image: 'pierone.example.com/team/app:1.0', key: 'pierone.example.com' },
    { name: 'a configured host and port, with a digest', image: `reg.example.com:5000/team/app@${digest}`, key: 'reg.example.com:5000' },
    { name: 'a tag and a digest', image: `pierone.example.com/app:1.0@${digest}`, key: 'pierone.example.com' },
    { name: 'localhost with a port', image: 'localhost:5000/app', key: 'localhost:5000' },
    { name: 'a configured host on another port', image: 'pierone.example.com:5000/app', key: undefined },
    { name: 'a configured host:port without its port', image: 'reg.example.com/app', key: undefined },
    { name: 'a host nobody configured', image: 'other.example.com/team/app:1.0', key: undefined },
    { name: 'Docker Hub, short', image: 'nginx:latest', key: undefined },
    { name: 'Docker Hub, by name', image: 'docker.io/library/nginx', key: undefined },
    { name: 'Docker Hub, with a namespace', image: 'pierone/app', key: undefined },
  ]
  it.each(golden)('$name: $image', async ({ image, key }) => {
    const run = await provider(request(image), registries)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const expected = {
      kind: 'CredentialProviderResponse',
      apiVersion: v1,
      cacheKeyType: 'Registry',
      cacheDuration: '1h0m0s',
      auth: key === undefined ? {} : { [key]: { username: 'instance-identity-document', password: sim.pkcs7 } },
    }
    expect(decodeResponse(run.stdout, v1)).toEqual(expected)
    // Only a configured registry costs an IMDS call; nobody else's pull touches it.
    expect(sim.requests.length > 0).toBe(key !== undefined)
  })

  it('answers v1beta1 in v1beta1', async () => {
    const run = await provider(request('pierone.example.com/app', v1beta1), registries)
    expect(run.code).toBe(0)
    expect(decodeResponse(run.stdout, v1beta1).auth).toEqual({
      'pierone.example.com': { username: 'instance-identity-document', password: sim.pkcs7 },
    })
  })

  it('with a service account token: the cache type kubelet then requires, and the token nowhere in the output', async () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.service-account-token-secret'
    const run = await provider(
      request('pierone.example.com/app', v1, { serviceAccountToken: token, serviceAccountAnnotations: { a: 'b' }, someFutureField: true }),
      registries,
    )
    expect(run.code).toBe(0)
    const response = decodeResponse(run.stdout, v1) as Record<string, unknown>
    expect(response['serviceAccountTokenCacheType']).toBe('ServiceAccount')
    expect(run.stdout + run.stderr).not.toContain(token)
  })

  it('follows the user name, signature, strip-newlines and cache duration settings', async () => {
    const flags = await provider(request('pierone.example.com/app'), [
      '-r',
      'pierone.example.com',
      '--username',
      'svc',
      '--signature',
      'rsa2048',
      '--strip-newlines',
      '--cache-duration',
      '90m',
    ])
    expect(flags.code).toBe(0)
    const fromFlags = decodeResponse(flags.stdout, v1)
    expect(fromFlags.cacheDuration).toBe('1h30m0s')
    expect(fromFlags.auth).toEqual({ 'pierone.example.com': { username: 'svc', password: sim.rsa2048.replace(/\n/g, '') } })

    const vars = await provider(request('pierone.example.com/app'), [], {
      IID_DOCKER_AUTH_REGISTRIES: 'pierone.example.com',
      IID_DOCKER_AUTH_USERNAME: 'svc',
      IID_DOCKER_AUTH_STRIP_NEWLINES: 'true',
      IID_DOCKER_AUTH_CACHE_DURATION: '0',
    })
    expect(vars.code).toBe(0)
    const fromVars = decodeResponse(vars.stdout, v1)
    expect(fromVars.cacheDuration).toBe('0s')
    expect(fromVars.auth!['pierone.example.com']).toEqual({ username: 'svc', password: sim.pkcs7.replace(/\n/g, '') })
  })

  it('reads the registries and endpoint from the unit’s environment file, under the variables', async () => {
    writeFileSync(
      envFile,
      renderEnvironmentFile([
        ['IID_DOCKER_AUTH_REGISTRIES', 'pierone.example.com'],
        ['IID_DOCKER_AUTH_ENDPOINT', sim.url],
        ['IID_DOCKER_AUTH_TIMEOUT', '300'],
      ]),
    )
    const run = await runCli(['kubelet-credential-provider'], {
      input: request('pierone.example.com/app'),
      protocolStdout: true,
      env: { IID_DOCKER_AUTH_ENV_FILE: envFile },
    })
    expect(run.code).toBe(0)
    expect(decodeResponse(run.stdout, v1).auth!['pierone.example.com']!.password).toBe(sim.pkcs7)
    // A variable wins over the file.
    const other = await provider(request('pierone.example.com/app'), [], { IID_DOCKER_AUTH_REGISTRIES: 'other.example.com' })
    expect(decodeResponse(other.stdout, v1).auth).toEqual({})
  })
})

describe('kubelet-credential-provider: failures', () => {
  const r = ['-r', 'pierone.example.com']
  it.each([
    [
      'an unsupported apiVersion',
      request('pierone.example.com/app', 'credentialprovider.kubelet.k8s.io/v1alpha1'),
      /unsupported apiVersion "credentialprovider\.kubelet\.k8s\.io\/v1alpha1"/,
    ],
    ['invalid JSON', '{"apiVersion": ', /invalid CredentialProviderRequest on stdin: not valid JSON/],
    [
      'another kind',
      JSON.stringify({ apiVersion: v1, kind: 'CredentialProviderResponse', image: 'pierone.example.com/app' }),
      /"kind" is "CredentialProviderResponse"/,
    ],
    ['no image', JSON.stringify({ apiVersion: v1, kind: 'CredentialProviderRequest' }), /"image" is missing/],
    ['an invalid image', request('pierone.example.com:0/app'), /does not start with a valid registry/],
    ['empty stdin', '', /stdin is empty/],
    ['a request over 64 KiB', request(`pierone.example.com/${'a'.repeat(70 * 1024)}`), /larger than 64 KiB/],
  ])('%s: exit 64, one line on stderr, nothing on stdout, IMDS not asked', async (_, input, message) => {
    expectFailure(await provider(input, r), 64, message)
    expect(sim.requests).toEqual([])
  })

  it('no registry configured: exit 64', async () => {
    expectFailure(await provider(request('pierone.example.com/app')), 64, /no registry given/)
  })

  it('a deadline past kubelet’s one-minute limit is refused', async () => {
    expectFailure(await provider(request('pierone.example.com/app'), [...r, '--timeout', '60']), 64, /too long for kubelet/)
  })

  it('IMDS down: one line within the deadline, non-zero, nothing on stdout', async () => {
    sim.setFaults({ routes: { token: { hang: true } } })
    const run = await provider(request('pierone.example.com/app'), [...r, '--timeout', '2'])
    expectFailure(run, 69, /IMDS at .* did not give the identity within 2 s/)
    expect(run.ms).toBeLessThan(10_000)
  })

  it('IMDS refusing: exit 69 at once', async () => {
    sim.setFaults({ routes: { token: { status: 403 } } })
    expectFailure(await provider(request('pierone.example.com/app'), r), 69, /HTTP 403/)
  })

  it('IMDS down does not matter for an image that gets nothing', async () => {
    sim.setFaults({ routes: { token: { status: 403 } } })
    const run = await provider(request('nginx'), r)
    expect(run.code).toBe(0)
    expect(decodeResponse(run.stdout, v1).auth).toEqual({})
  })
})

/** The YAML subset kubelet-config prints: block maps and sequences, double-quoted scalars. */
function parseYaml(text: string): unknown {
  const lines = text.split('\n').filter((l) => l.trim() !== '')
  let i = 0
  const scalar = (s: string): unknown => (s === '[]' ? [] : JSON.parse(s))
  const indentOf = (l: string): number => l.length - l.trimStart().length
  function block(indent: number): unknown {
    if (lines[i]!.slice(indent).startsWith('- ')) {
      const list: unknown[] = []
      while (i < lines.length && indentOf(lines[i]!) === indent && lines[i]!.slice(indent).startsWith('- ')) {
        const rest = lines[i]!.slice(indent + 2)
        if (/^[A-Za-z]+:/.test(rest)) {
          lines[i] = ' '.repeat(indent + 2) + rest // the map starts on the dash line
          list.push(block(indent + 2))
        } else {
          list.push(scalar(rest))
          i++
        }
      }
      return list
    }
    const map: Record<string, unknown> = {}
    while (i < lines.length && indentOf(lines[i]!) === indent) {
      const match = /^([A-Za-z]+):(?: (.*))?$/.exec(lines[i]!.slice(indent))
      expect(match, `YAML line ${JSON.stringify(lines[i])}`).not.toBeNull()
      i++
      map[match![1]!] = match![2] !== undefined ? scalar(match![2]) : block(indentOf(lines[i]!))
    }
    return map
  }
  const value = block(0)
  expect(i, 'every line parsed').toBe(lines.length)
  return value
}

/** CredentialProviderConfig (k8s.io/kubelet/config/v1), strictly: known fields only, the required ones present. */
function checkConfig(config: any): void {
  expect(Object.keys(config).sort()).toEqual(['apiVersion', 'kind', 'providers'])
  expect(config.apiVersion).toBe('kubelet.config.k8s.io/v1')
  expect(config.kind).toBe('CredentialProviderConfig')
  expect(config.providers).toHaveLength(1)
  const p = config.providers[0]
  expect(Object.keys(p).sort()).toEqual(['apiVersion', 'args', 'defaultCacheDuration', 'matchImages', 'name'])
  expect(p.apiVersion).toBe(v1)
  expect(p.defaultCacheDuration).toMatch(goDuration)
  expect(p.matchImages.length).toBeGreaterThan(0)
  expect(p.args[0]).toBe('kubelet-credential-provider')
}

describe('kubelet-config', () => {
  const config = (args: string[], env: Record<string, string | undefined> = {}) =>
    runCli(['kubelet-config', ...args], { env: { IID_DOCKER_AUTH_ENV_FILE: envFile, ...env } })

  it('prints YAML by default, exactly this', async () => {
    const run = await config(['-r', 'pierone.example.com,https://Reg.example.com:5000/v2/'])
    expect(run.code).toBe(0)
    expect(run.stderr).toBe('')
    expect(run.stdout).toBe(
      [
        'apiVersion: "kubelet.config.k8s.io/v1"',
        'kind: "CredentialProviderConfig"',
        'providers:',
        '  - name: "iid-docker-auth"',
        '    matchImages:',
        '      - "pierone.example.com"',
        '      - "reg.example.com:5000"',
        '    defaultCacheDuration: "1h0m0s"',
        '    apiVersion: "credentialprovider.kubelet.k8s.io/v1"',
        '    args:',
        '      - "kubelet-credential-provider"',
        '      - "--registry"',
        '      - "pierone.example.com"',
        '      - "--registry"',
        '      - "reg.example.com:5000"',
        '      - "--cache-duration"',
        '      - "1h0m0s"',
        '',
      ].join('\n'),
    )
    checkConfig(parseYaml(run.stdout))
  })

  it('the README (docs/kubelet.md) shows what it prints', async () => {
    const page = readFileSync(join(repoRoot, 'docs', 'kubelet.md'), 'utf8')
    const command = 'iid-docker-auth kubelet-config --registry pierone.example.com >'
    expect(page).toContain(command)
    const shown = /```yaml\n([\s\S]*?)```/.exec(page.slice(page.indexOf(command)))![1]
    expect((await config(['--registry', 'pierone.example.com'])).stdout).toBe(shown)
  })

  it('YAML and JSON (--json, --format json) hold the same config; the registries come from the variables and the environment file too', async () => {
    writeFileSync(envFile, renderEnvironmentFile([['IID_DOCKER_AUTH_REGISTRIES', 'pierone.example.com,localhost:5000']]))
    const yaml = await config(['--name', 'iid', '--cache-duration', '30m', '--username', 'svc'])
    const json = await config(['--name', 'iid', '--cache-duration', '30m', '--username', 'svc', '--json'])
    const format = await config(['--name', 'iid', '--cache-duration', '30m', '--username', 'svc', '--format', 'json'])
    for (const run of [yaml, json, format]) expect(run.code).toBe(0)
    expect(format.stdout).toBe(json.stdout)
    const parsed = JSON.parse(json.stdout)
    checkConfig(parsed)
    expect(parseYaml(yaml.stdout)).toEqual(parsed)
    expect(parsed.providers[0]).toMatchObject({
      name: 'iid',
      matchImages: ['pierone.example.com', 'localhost:5000'],
      defaultCacheDuration: '30m0s',
    })
    expect(parsed.providers[0].args).toEqual([
      'kubelet-credential-provider',
      '--registry',
      'pierone.example.com',
      '--registry',
      'localhost:5000',
      '--username',
      'svc',
      '--cache-duration',
      '30m0s',
    ])
  })

  it('its args, run as kubelet runs them, answer for its matchImages', async () => {
    const run = await config(['-r', 'pierone.example.com', '--endpoint', sim.url, '--json'])
    const p = JSON.parse(run.stdout).providers[0]
    const answer = await runCli(p.args, {
      input: request(`${p.matchImages[0]}/team/app:1`),
      protocolStdout: true,
      env: { IID_DOCKER_AUTH_ENV_FILE: envFile },
    })
    expect(answer.code).toBe(0)
    expect(decodeResponse(answer.stdout, v1)).toMatchObject({
      cacheDuration: p.defaultCacheDuration,
      auth: { 'pierone.example.com': { password: sim.pkcs7 } },
    })
  })

  it.each([
    [['-r', 'docker.io'], /Docker Hub/],
    [[], /no registry given/],
    [['-r', 'a.example.com', '--format', 'toml'], /--format "toml"/],
    [['-r', 'a.example.com', '--json', '--format', 'yaml'], /contradict/],
    [['-r', 'a.example.com', '--name', '../x'], /not a file name/],
    [['-r', 'a.example.com', '--cache-duration', '1d'], /not a Go duration/],
  ])('%j: exit 64', async (args, message) => {
    const run = await config(args)
    expect(run.code).toBe(64)
    expect(run.stdout).toBe('')
    expect(run.stderr).toMatch(message)
  })
})
