import { describe, expect, it } from 'vitest'
import { checkExitCode, probeCredential, probeLine } from '../../src/commands/check-lines.js'
import { unitLines } from '../../src/commands/check-unit.js'
import { parseConfig } from '../../src/config/docker-config.js'
import { buildAuth } from '../../src/imds/identity.js'
import { parseChallenge } from '../../src/registry/probe.js'

describe('unitLines', () => {
  it.each([
    [undefined, [['ok', /systemd is not running here/]]],
    [{ LoadState: 'not-found' }, [['warn', /is not installed/]]],
    [
      { LoadState: 'loaded', UnitFileState: 'disabled', ActiveState: 'inactive', Result: 'success' },
      [
        ['warn', /installed but disabled/],
        ['warn', /has not run this boot/],
      ],
    ],
    [
      { LoadState: 'loaded', UnitFileState: 'enabled', ActiveState: 'active', Result: 'success', ExecMainStatus: '0' },
      [
        ['ok', /installed and enabled/],
        ['ok', /ran successfully/],
      ],
    ],
    [
      { LoadState: 'loaded', UnitFileState: 'enabled', ActiveState: 'failed', Result: 'exit-code', ExecMainStatus: '69' },
      [
        ['ok', /installed and enabled/],
        ['fail', /failed this boot \(exit-code, exit status 69\)/],
      ],
    ],
  ] as const)('%j', (facts, expected) => {
    const lines = unitLines(facts as Record<string, string> | undefined)
    expect(lines.map((l) => l.verdict)).toEqual(expected.map(([v]) => v))
    lines.forEach((l, i) => expect(l.message).toMatch(expected[i]![1]))
  })

  it('carries a documented exit status of the unit, else 1', () => {
    const failed = (status: string) =>
      unitLines({ LoadState: 'loaded', UnitFileState: 'enabled', Result: 'exit-code', ExecMainStatus: status })
    expect(checkExitCode(failed('73'))).toBe(73)
    expect(checkExitCode(failed('203'))).toBe(1)
  })
})

describe('probe', () => {
  it('parses Bearer and Basic challenges', () => {
    expect(
      parseChallenge('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull"'),
    ).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:a/b:pull' },
    })
    expect(parseChallenge('Basic realm="x"')).toEqual({ scheme: 'basic', params: { realm: 'x' } })
  })

  it('maps outcomes to verdicts and exit codes', () => {
    const base = { url: 'https://r/v2/', status: 401, detail: 'denied' }
    expect(probeLine('r', { ...base, outcome: 'accepted' }, 'x').verdict).toBe('ok')
    expect(probeLine('r', { ...base, outcome: 'open' }, 'x').verdict).toBe('warn')
    expect(probeLine('r', { ...base, outcome: 'refused' }, 'x')).toMatchObject({ verdict: 'fail', exitCode: 77 })
    expect(probeLine('r', { ...base, outcome: 'unreachable' }, 'x')).toMatchObject({ verdict: 'fail', exitCode: 69 })
    // The registry's fault: the credential was not sent, or not along a redirect; each with the operator's fix.
    expect(
      probeLine('r', { ...base, outcome: 'withheld', detail: 'the token realm "http://x/t" is neither https nor on this machine' }, 'x'),
    ).toMatchObject({
      verdict: 'fail',
      exitCode: 69,
      message: 'r (https://r/v2/): the token realm "http://x/t" is neither https nor on this machine, so x was not sent',
      fix: 'the registry operator must serve its token realm over https',
    })
    expect(probeLine('r', { ...base, outcome: 'invalid-realm', detail: '"::"' }, 'x')).toMatchObject({
      verdict: 'fail',
      exitCode: 69,
      message: expect.stringMatching(/"::", which is not a URL \(the registry's fault\)/),
    })
    expect(probeLine('r', { ...base, outcome: 'redirected', status: 302, detail: 'HTTP 302 to "https://y/"' }, 'x')).toMatchObject({
      verdict: 'fail',
      exitCode: 69,
      message: expect.stringMatching(/redirect \(HTTP 302 to "https:\/\/y\/"\), which is not followed/),
    })
  })
})

describe('probeCredential', () => {
  const facts = (auth: string) => [
    {
      location: { path: '/c.json', source: '--config' },
      target: '/c.json',
      stat: { mode: 0o600, uid: 0, gid: 0 },
      document: parseConfig(Buffer.from(JSON.stringify({ auths: { 'reg.example.com': { auth } } })), '/c.json'),
      error: undefined,
    },
  ]
  const identity = {
    signature: 'MIAGCSqGSIb3DQEHAqCAMIACAQEx',
    document: '{}',
    instanceId: 'i-1',
    accountId: '1',
    region: 'r',
    availabilityZone: undefined,
    embeddedDocument: 'matches',
    embeddedMismatch: false,
  } as const

  it("sends this tool's entry from the file", () => {
    const ours = buildAuth('instance-identity-document', 'older-pkcs7', false)
    expect(probeCredential(facts(ours), 'reg.example.com', identity, 'instance-identity-document', false)).toEqual({
      auth: ours,
      from: 'the entry in /c.json',
    })
  })

  it('never sends a login someone else wrote under the same key: a fresh credential instead', () => {
    const theirs = Buffer.from('alice:her-password').toString('base64')
    const result = probeCredential(facts(theirs), 'reg.example.com', identity, 'instance-identity-document', false)
    expect(result?.from).toBe('a fresh credential from IMDS')
    expect(result?.auth).not.toBe(theirs)
    expect(probeCredential(facts(theirs), 'reg.example.com', undefined, 'instance-identity-document', false)).toBeUndefined()
  })

  it('sends the auth Go reads (the last, in any case), the one judged ours, never a field beside it', () => {
    const ours = buildAuth('instance-identity-document', 'older-pkcs7', false)
    const theirs = Buffer.from('alice:her-password').toString('base64')
    const withTwo = (first: string, last: string) => [
      {
        ...facts(ours)[0]!,
        document: parseConfig(Buffer.from(`{"auths":{"reg.example.com":{"auth":"${first}","Auth":"${last}"}}}`), '/c.json'),
      },
    ]
    expect(probeCredential(withTwo(theirs, ours), 'reg.example.com', identity, 'instance-identity-document', false)).toEqual({
      auth: ours,
      from: 'the entry in /c.json',
    })
    expect(probeCredential(withTwo(ours, theirs), 'reg.example.com', identity, 'instance-identity-document', false)?.auth).not.toBe(theirs)
  })
})
