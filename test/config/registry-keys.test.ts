import { describe, expect, it } from 'vitest'
import { CliError } from '../../src/errors.js'
import { isCompetingKey, normalizeRegistry, parseRegistryList } from '../../src/config/registry-keys.js'

describe('normalizeRegistry', () => {
  it.each([
    ['pierone.example.com', 'pierone.example.com', false],
    ['registry.example.com:5000', 'registry.example.com:5000', false],
    ['Registry.Example.COM', 'registry.example.com', true],
    ['https://pierone.example.com/v1/', 'pierone.example.com', true],
    ['http://host:8080', 'host:8080', true],
    ['host/', 'host', true],
    ['https://host/', 'host', true],
    ['https://host/v2', 'host', true],
    ['HOST/V1/', 'host', true],
    ['localhost', 'localhost', false],
    ['127.0.0.1:5000', '127.0.0.1:5000', false],
    ['[::1]:5000', '[::1]:5000', false],
    ['[fd00:ec2::254]', '[fd00:ec2::254]', false],
  ])('%s -> %s', (input, key, reduced) => {
    const r = normalizeRegistry(input)
    expect(r.key).toBe(key)
    expect(r.reducedFrom !== undefined).toBe(reduced)
  })

  it.each([
    '',
    ' ',
    'host name',
    'host\n',
    'user@host',
    'https://user:pw@host/',
    '*.example.com',
    'ftp://host',
    'host:0',
    'host:65536',
    'host:port',
    '-host.example.com',
    'host_name.example.com',
    '[::1',
    '[nothex]:80',
    'a..b',
  ])('refuses %j with a usage error', (input) => {
    try {
      normalizeRegistry(input)
      expect.unreachable('accepted an invalid registry')
    } catch (error) {
      expect(error).toBeInstanceOf(CliError)
      expect((error as CliError).exitCode).toBe(64)
      expect((error as CliError).hint).toMatch(/host\[:port\]/)
    }
  })

  it.each([
    'docker.io',
    'Docker.IO',
    'index.docker.io',
    'registry-1.docker.io',
    'https://index.docker.io/v1/',
    'https://registry-1.docker.io:443/v2/',
    'http://docker.io',
    'registry.hub.docker.com',
    'hub.docker.com',
    'HUB.DOCKER.COM:443',
  ])('refuses Docker Hub (%j) with a usage error naming it', (input) => {
    try {
      normalizeRegistry(input)
      expect.unreachable('accepted Docker Hub')
    } catch (error) {
      expect(error).toBeInstanceOf(CliError)
      expect((error as CliError).exitCode).toBe(64)
      expect((error as CliError).message).toMatch(/is Docker Hub, which does not verify EC2 instance identities/)
      expect((error as CliError).message).not.toContain('\n')
      expect((error as CliError).hint).toMatch(/your own registry/)
    }
  })

  it.each([
    ['reg.example.com/team/app', /names a repository path \("\/team\/app"\)/, /--registry reg\.example\.com$/],
    ['https://reg.example.com/v2/team/app', /names a repository path \("\/v2\/team\/app"\)/, /--registry reg\.example\.com$/],
    ['bücher.example', /"bücher\.example" is not ASCII/, /punycode form: --registry xn--bcher-kva\.example$/],
    ['https://BÜCHER.example:5000/', /is not ASCII/, /--registry xn--bcher-kva\.example:5000$/],
    [`${'a'.repeat(100_000)}.example`, /^registry "a{100}"…\(100008 characters\) is not a valid host\[:port\]$/, /host\[:port\]/],
  ])('refuses %j, saying why and what to give instead', (input, message, hint) => {
    try {
      normalizeRegistry(input)
      expect.unreachable('accepted')
    } catch (error) {
      expect((error as CliError).exitCode).toBe(64)
      expect((error as CliError).message).toMatch(message)
      expect((error as CliError).hint).toMatch(hint)
    }
  })

  it.each(['docker.example.com', 'mydocker.io', 'docker.io.example.com', 'notdocker.com'])(
    'accepts %j, which is not Docker Hub',
    (input) => {
      expect(normalizeRegistry(input).key).toBe(input)
    },
  )

  it('splits comma-separated values, trims, and removes duplicates in order', () => {
    expect(parseRegistryList(['b.example.com, a.example.com', 'B.example.com', 'c.example.com,']).map((r) => r.key)).toEqual([
      'b.example.com',
      'a.example.com',
      'c.example.com',
    ])
  })
})

describe('isCompetingKey', () => {
  it.each([
    ['https://host/v1/', true],
    ['http://host', true],
    ['https://host', true],
    ['HTTPS://HOST/v2/', true],
    ['host/', true],
    ['host/v1/', true],
    ['HOST', true],
    ['host', false], // our own key
    ['host/team/app', false], // a per-repository credential
    ['host:443', false], // a different key for every reader
    ['https://host:443/', false],
    ['otherhost', false],
    ['https://otherhost/v1/', false],
    ['host.example.com', false],
  ])('%s competes with "host": %s', (existing, competes) => {
    expect(isCompetingKey(existing, 'host')).toBe(competes)
  })

  it('compares without case, also where lower-casing maps a non-ASCII character to ASCII', () => {
    expect(isCompetingKey('\u212aelvin.example.com', 'kelvin.example.com')).toBe(true)
  })
})
