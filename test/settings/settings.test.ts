import { describe, expect, it } from 'vitest'
import { CliError } from '../../src/errors.js'
import { type SettingFlags, resolveSettings } from '../../src/settings/settings.js'
import { lockTimeoutMs, resolveEndpoint } from '../../src/settings/values.js'
import { expectUsage } from '../support/expect-usage.js'

const resolve = (flags: SettingFlags, env: Record<string, string> = {}) => resolveSettings(flags, env)

describe('resolveSettings', () => {
  it('has the documented defaults', () => {
    expect(resolve({ registry: ['r.example.com'] })).toEqual({
      registries: [{ key: 'r.example.com' }],
      config: undefined,
      username: 'instance-identity-document',
      signature: 'pkcs7',
      stripNewlines: false,
      endpoint: 'http://169.254.169.254/',
      timeoutMs: 120_000,
      attemptTimeoutMs: 2000,
      dryRun: false,
      json: false,
      verbosity: 'normal',
      imdsDisabled: false,
      platform: 'auto',
      sysfs: '/sys',
    })
  })

  it('takes every setting from IID_DOCKER_AUTH_* variables', () => {
    const options = resolve(
      {},
      {
        IID_DOCKER_AUTH_REGISTRIES: 'a.example.com, b.example.com:5000',
        IID_DOCKER_AUTH_CONFIG: '/root/.docker/config.json,/var/lib/kubelet/config.json',
        IID_DOCKER_AUTH_USERNAME: 'svc',
        IID_DOCKER_AUTH_SIGNATURE: 'rsa2048',
        IID_DOCKER_AUTH_STRIP_NEWLINES: 'true',
        IID_DOCKER_AUTH_ENDPOINT: 'http://127.0.0.1:1338',
        IID_DOCKER_AUTH_TIMEOUT: '2.5',
        IID_DOCKER_AUTH_JSON: 'yes',
        IID_DOCKER_AUTH_LOG_LEVEL: 'verbose',
      },
    )
    expect(options).toMatchObject({
      registries: [{ key: 'a.example.com' }, { key: 'b.example.com:5000' }],
      config: {
        items: ['/root/.docker/config.json', '/var/lib/kubelet/config.json'],
        source: 'IID_DOCKER_AUTH_CONFIG',
        label: 'IID_DOCKER_AUTH_CONFIG',
      },
      username: 'svc',
      signature: 'rsa2048',
      stripNewlines: true,
      endpoint: 'http://127.0.0.1:1338/',
      timeoutMs: 2500,
      json: true,
      verbosity: 'verbose',
    })
  })

  it('lets flags win over the environment', () => {
    const env = {
      IID_DOCKER_AUTH_REGISTRIES: 'env.example.com',
      IID_DOCKER_AUTH_STRIP_NEWLINES: 'true',
      IID_DOCKER_AUTH_TIMEOUT: '9',
      IID_DOCKER_AUTH_LOG_LEVEL: 'verbose',
    }
    const options = resolve({ registry: ['flag.example.com'], stripNewlines: false, timeout: '3', quiet: true }, env)
    expect(options.registries).toEqual([{ key: 'flag.example.com' }])
    expect(options.stripNewlines).toBe(false)
    expect(options.timeoutMs).toBe(3000)
    expect(options.verbosity).toBe('quiet')
  })

  it('recognises AWS_EC2_METADATA_DISABLED=true only', () => {
    expect(resolve({ registry: ['r'] }, { AWS_EC2_METADATA_DISABLED: 'TRUE' }).imdsDisabled).toBe(true)
    expect(resolve({ registry: ['r'] }, { AWS_EC2_METADATA_DISABLED: 'false' }).imdsDisabled).toBe(false)
  })

  it.each<[SettingFlags, Record<string, string>, RegExp]>([
    [{}, {}, /no registry given/],
    [{ registry: ['bad host'] }, {}, /white space/],
    [{ registry: ['r'], timeout: '0' }, {}, /--timeout "0"/],
    [{ registry: ['r'], timeout: 'soon' }, {}, /--timeout "soon"/],
    [{ registry: ['r'] }, { IID_DOCKER_AUTH_TIMEOUT: '-1' }, /IID_DOCKER_AUTH_TIMEOUT "-1"/],
    [{ registry: ['r'], signature: 'sha1' }, {}, /not a signature kind/],
    [{ registry: ['r'], username: 'a:b' }, {}, /--username must be/],
    [{ registry: ['r'] }, { IID_DOCKER_AUTH_USERNAME: '' }, /IID_DOCKER_AUTH_USERNAME must be/],
    [{ registry: ['r'] }, { IID_DOCKER_AUTH_STRIP_NEWLINES: 'maybe' }, /not a boolean/],
    [{ registry: ['r'] }, { IID_DOCKER_AUTH_LOG_LEVEL: 'loud' }, /not a log level/],
    [{ registry: ['r'], quiet: true, verbose: true }, {}, /mutually exclusive/],
    [{ registry: ['r'], endpoint: 'not a url' }, {}, /--endpoint "not a url" is not a URL/],
    [{ registry: ['r'], endpoint: 'ftp://x' }, {}, /not an http\(s\) URL/],
    [{ registry: ['r'], endpoint: 'http://u:p@x' }, {}, /credentials/],
    [{ registry: [''] }, {}, /^--registry "" names no registry$/],
    [{ registry: [','] }, {}, /^--registry "," names no registry$/],
    [{}, { IID_DOCKER_AUTH_REGISTRIES: '' }, /^IID_DOCKER_AUTH_REGISTRIES "" names no registry$/],
    [{ registry: ['r'], endpoint: `http://${'a'.repeat(100_000)}:x` }, {}, /…\(100009 characters\) is not a URL/],
  ])('refuses %j %j', (flags, env, message) => {
    expectUsage(() => resolve(flags, env), message)
  })
})

describe('resolveEndpoint', () => {
  it.each<[string | undefined, Record<string, string>, string]>([
    [undefined, {}, 'http://169.254.169.254/'],
    [undefined, { AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'IPv6' }, 'http://[fd00:ec2::254]/'],
    [undefined, { AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'ipv4' }, 'http://169.254.169.254/'],
    [
      undefined,
      { AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:9', AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'IPv6' },
      'http://127.0.0.1:9/',
    ],
    [
      undefined,
      { IID_DOCKER_AUTH_ENDPOINT: 'http://[::1]:8080', AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:9' },
      'http://[::1]:8080/',
    ],
    ['http://127.0.0.2:80/base', { IID_DOCKER_AUTH_ENDPOINT: 'http://[::1]:8080' }, 'http://127.0.0.2/base/'],
  ])('flag %j, env %j -> %s', (flag, env, expected) => {
    expect(resolveEndpoint(flag, env)).toBe(expected)
  })

  it('refuses an unknown endpoint mode', () => {
    expectUsage(() => resolveEndpoint(undefined, { AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'IPv5' }), /neither IPv4 nor IPv6/)
  })
})

describe('numbers of seconds', () => {
  it('are plain decimals, each validated, each message naming the real default', () => {
    expect(lockTimeoutMs({})).toBe(30_000)
    expect(lockTimeoutMs({ IID_DOCKER_AUTH_LOCK_TIMEOUT: '0' })).toBe(0)
    expect(lockTimeoutMs({ IID_DOCKER_AUTH_LOCK_TIMEOUT: '2.5' })).toBe(2500)
    for (const bad of ['abc', '-5', '1e99', '0x10', '1e3', ' ', 'Infinity', '86401']) {
      if (bad.trim() === '') continue
      expectUsage(() => lockTimeoutMs({ IID_DOCKER_AUTH_LOCK_TIMEOUT: bad }), /IID_DOCKER_AUTH_LOCK_TIMEOUT .* is not a number of seconds/)
    }
    expectUsage(() => resolve({ registry: ['r.example.com'] }, { IID_DOCKER_AUTH_ATTEMPT_TIMEOUT: 'x' }), /IID_DOCKER_AUTH_ATTEMPT_TIMEOUT/)
    try {
      resolve({ registry: ['r.example.com'] }, { IID_DOCKER_AUTH_ATTEMPT_TIMEOUT: '0x10' })
    } catch (error) {
      expect((error as CliError).hint).toMatch(/the default is 2 /)
    }
    expect(() => resolve({ registry: ['r.example.com'], timeout: '0x10' })).toThrow(/--timeout "0x10"/)
    expect(resolve({ registry: ['r.example.com'], timeout: '90' }).timeoutMs).toBe(90_000)
  })
})
