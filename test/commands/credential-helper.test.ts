// docker-credential-iid's protocol, verb by verb, with IMDS and the settings file faked.
import { describe, expect, it } from 'vitest'
import { type HelperIo, maxServerBytes, notFoundMessage, runHelper } from '../../src/commands/credential-helper.js'
import { CliError, ExitCode } from '../../src/errors.js'
import type { InstanceIdentity } from '../../src/imds/identity.js'
import type { Settings } from '../../src/settings/settings.js'

const signature = 'MIIB-line-one\nline-two=='
const identity: InstanceIdentity = {
  document: '{}',
  signature,
  instanceId: 'i-1',
  accountId: '123456789012',
  region: 'eu-central-1',
  availabilityZone: undefined,
}

interface Run {
  code: number
  stdout: string
  stderr: string
  asked: Settings[]
}

async function helper(
  args: string[],
  options: {
    stdin?: string | Buffer
    env?: Record<string, string>
    file?: Record<string, string>
    fileProblem?: CliError
    imds?: () => Promise<InstanceIdentity>
  } = {},
): Promise<Run> {
  const run: Run = { code: -1, stdout: '', stderr: '', asked: [] }
  const io: HelperIo = {
    stdout: (t) => (run.stdout += t),
    stderr: (t) => (run.stderr += t),
    env: options.env ?? {},
    readStdin: async (limit) => Buffer.from(options.stdin ?? '').subarray(0, limit),
    readSettingsFile: () => {
      if (options.fileProblem !== undefined) throw options.fileProblem
      return {
        path: '/etc/default/iid-docker-auth',
        entries: Object.entries(options.file ?? {}).map(([name, value], i) => ({ name, value, line: i + 1 })),
        ignored: [],
      }
    },
    fetchIdentity: async (o) => {
      run.asked.push(o)
      return (options.imds ?? (async () => identity))()
    },
  }
  run.code = await runHelper(args, io)
  return run
}

const configured = { IID_DOCKER_AUTH_REGISTRIES: 'pierone.example.com,registry.local:5000', IID_DOCKER_AUTH_ENDPOINT: 'http://127.0.0.1:9' }

describe('docker-credential-iid get', () => {
  it('answers a configured registry with the PKCS7 verbatim, the ServerURL as given, and the configured user name', async () => {
    const run = await helper(['get'], { stdin: 'pierone.example.com', file: configured })
    expect(run.code).toBe(0)
    expect(run.stdout).toBe(
      `${JSON.stringify({ ServerURL: 'pierone.example.com', Username: 'instance-identity-document', Secret: signature })}\n`,
    )
    expect(run.stderr).toBe('')
    // The deadline defaults to 10 s here; the file's endpoint is used.
    expect(run.asked[0]).toMatchObject({ timeoutMs: 10_000, endpoint: 'http://127.0.0.1:9/', signature: 'pkcs7' })
  })

  it('trims the server string, reduces a URL to its host, and follows the variables over the file', async () => {
    const run = await helper(['get'], {
      stdin: ' https://Registry.local:5000/v2/ \n',
      file: { ...configured, IID_DOCKER_AUTH_USERNAME: 'from-file', IID_DOCKER_AUTH_TIMEOUT: '600' },
      env: { IID_DOCKER_AUTH_USERNAME: 'svc', IID_DOCKER_AUTH_STRIP_NEWLINES: 'true', IID_DOCKER_AUTH_SIGNATURE: 'rsa2048' },
    })
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout)).toEqual({
      ServerURL: 'https://Registry.local:5000/v2/',
      Username: 'svc',
      Secret: 'MIIB-line-oneline-two==',
    })
    // The file's deadline is the boot unit's; only the variable changes the helper's.
    expect(run.asked[0]).toMatchObject({ timeoutMs: 10_000, signature: 'rsa2048' })
    expect(
      (await helper(['get'], { stdin: 'pierone.example.com', file: configured, env: { IID_DOCKER_AUTH_TIMEOUT: '3' } })).asked[0]!
        .timeoutMs,
    ).toBe(3000)
  })

  it.each([
    ['another host', 'other.example.com'],
    ['Docker Hub', 'https://index.docker.io/v1/'],
    ['a subdomain of a configured host', 'x.pierone.example.com'],
    ['an empty string', ''],
    ['something that is not a host', 'not a host'],
    ['an oversized input', `pierone.example.com${' '.repeat(maxServerBytes)}`],
  ])('answers %s with exactly the not-found text on stdout and exit 1, without asking IMDS', async (_, stdin) => {
    const run = await helper(['get'], { stdin, file: configured })
    expect(run).toMatchObject({ code: 1, stdout: `${notFoundMessage}\n`, stderr: '', asked: [] })
  })

  it('with nothing configured: not found, and IMDS is never asked', async () => {
    expect(await helper(['get'], { stdin: 'pierone.example.com' })).toMatchObject({ code: 1, stdout: `${notFoundMessage}\n`, asked: [] })
  })

  it('an unreadable settings file is an error with the fix, never "not found"', async () => {
    const run = await helper(['get'], {
      stdin: 'pierone.example.com',
      fileProblem: new CliError(ExitCode.configUnusable, 'cannot read the settings file /etc/default/iid-docker-auth (EACCES)', {
        hint: 'chmod 0644 /etc/default/iid-docker-auth',
      }),
    })
    expect(run).toMatchObject({ code: ExitCode.configUnusable, stdout: '' })
    expect(run.stderr).toMatch(/^docker-credential-iid: error: cannot read .*fix: chmod 0644/)
  })

  it('IMDS failing is one line on stderr with the fix, nothing on stdout, and its exit code', async () => {
    const run = await helper(['get'], {
      stdin: 'pierone.example.com',
      file: configured,
      imds: async () => {
        throw new CliError(
          ExitCode.imdsUnavailable,
          'IMDS at http://127.0.0.1:9/ did not give the identity within 10 s: connection refused',
          { hint: 'pass --endpoint' },
        )
      },
    })
    expect(run.code).toBe(69)
    expect(run.stdout).toBe('')
    expect(run.stderr).toBe(
      'docker-credential-iid: error: no credential for pierone.example.com: IMDS at http://127.0.0.1:9/ did not give the identity within 10 s: connection refused; fix: pass --endpoint\n',
    )
  })

  it('settings it does not use never fail it, from the file or the environment', async () => {
    const unused = {
      IID_DOCKER_AUTH_LOG_LEVEL: 'loud',
      IID_DOCKER_AUTH_JSON: 'maybe',
      IID_DOCKER_AUTH_CONFIG: ',',
      IID_DOCKER_AUTH_LOCK_TIMEOUT: 'x',
    }
    expect(await helper(['get'], { stdin: 'pierone.example.com', file: { ...configured, ...unused } })).toMatchObject({
      code: 0,
      stderr: '',
    })
    expect(await helper(['get'], { stdin: 'pierone.example.com', file: configured, env: unused })).toMatchObject({ code: 0, stderr: '' })
  })

  it('a bad setting from the file is named with the file and its line', async () => {
    const run = await helper(['get'], { stdin: 'pierone.example.com', file: { ...configured, IID_DOCKER_AUTH_SIGNATURE: 'md5' } })
    expect(run).toMatchObject({ code: 64, stdout: '' })
    expect(run.stderr).toMatch(
      /^docker-credential-iid: error: IID_DOCKER_AUTH_SIGNATURE in \/etc\/default\/iid-docker-auth:3 "md5" is not a signature kind/,
    )
  })

  it('a bad setting is a usage error on stderr', async () => {
    const run = await helper(['get'], { stdin: 'pierone.example.com', file: { IID_DOCKER_AUTH_REGISTRIES: 'docker.io' } })
    expect(run).toMatchObject({ code: 64, stdout: '' })
    expect(run.stderr).toMatch(/Docker Hub/)
  })
})

describe('docker-credential-iid store, erase, list, version', () => {
  it.each(['store', 'erase'])('%s reads its input, succeeds and says so on stderr', async (verb) => {
    const run = await helper([verb], {
      stdin: JSON.stringify({ ServerURL: 'pierone.example.com', Username: 'u', Secret: 'typed-by-a-person' }),
      file: configured,
    })
    expect(run).toMatchObject({ code: 0, stdout: '', asked: [] })
    expect(run.stderr).toMatch(/^docker-credential-iid: \w+: nothing to do.*\n$/)
    expect(run.stderr).not.toContain('typed-by-a-person')
  })

  it('list names each configured registry with the user name', async () => {
    expect(await helper(['list'], { file: configured, env: { IID_DOCKER_AUTH_USERNAME: 'svc' } })).toMatchObject({
      code: 0,
      stdout: '{"pierone.example.com":"svc","registry.local:5000":"svc"}\n',
      asked: [],
    })
    expect((await helper(['list'])).stdout).toBe('{}\n')
  })

  it('version prints the package version', async () => {
    expect((await helper(['version'])).stdout).toMatch(/^docker-credential-iid \(iid-docker-auth\) \d+\.\d+\.\d+\n$/)
  })

  it('no verb, an unknown verb or extra arguments: usage on stderr, 64', async () => {
    for (const args of [[], ['delete'], ['get', 'x']]) expect(await helper(args)).toMatchObject({ code: 64, stdout: '' })
  })
})
