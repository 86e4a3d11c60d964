// classifyError and decide, fed errors shaped exactly as the pinned SDK (3.1163.0, with
// @smithy/node-http-handler) throws them, and what the client saw of the request on the wire.
import { describe, expect, it } from 'vitest'
import { type ImdsPhase, classifyError, decide, hopLimitHint } from '../../src/imds/retry-policy.js'

// The SDK wraps every failure in a new Error whose message is `${original}`: name and message only.
const tokenError = (inner: Error, disabled = false) =>
  new Error(`Error fetching metadata token: ${inner}${disabled ? '. [disableFetchToken] is now set to true.' : ''}`)
const getError = (inner: Error & { $metadata?: unknown }) =>
  Object.assign(new Error(`Error making request to the metadata service: ${inner}`), inner.$metadata ? { $metadata: inner.$metadata } : {})
const smithy = {
  connectTimeout: () =>
    Object.assign(
      new Error(
        '@smithy/node-http-handler - the request socket did not establish a connection with the server within the configured timeout of 300 ms.',
      ),
      { name: 'TimeoutError' },
    ),
  requestTimeout: () =>
    Object.assign(new Error('@smithy/node-http-handler - [ERROR] a request has exceeded the configured 300 ms requestTimeout.'), {
      name: 'TimeoutError',
      code: 'ETIMEDOUT',
    }),
  refused: () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED', syscall: 'connect' }),
  // smithy renames ECONNRESET, EPIPE and ETIMEDOUT socket errors to TimeoutError.
  reset: () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', name: 'TimeoutError' }),
  unreachable: () => Object.assign(new Error('connect EHOSTUNREACH 127.0.0.1:9'), { code: 'EHOSTUNREACH' }),
  status: (text: string, status: number) =>
    Object.assign(new Error(`${text} with status code ${status}`), { $metadata: { httpStatusCode: status } }),
}
const reworded = () => new Error('something the SDK says in another version')

describe('classifyError', () => {
  it.each([
    ['token', tokenError(smithy.connectTimeout()), 'connect-timeout', 'the token request (PUT latest/api/token) could not connect in time'],
    [
      'token',
      tokenError(smithy.requestTimeout()),
      'response-timeout',
      'the token request (PUT latest/api/token) connected but got no answer in time',
    ],
    [
      'document',
      getError(smithy.requestTimeout()),
      'response-timeout',
      'the request for the identity document connected but got no answer in time',
    ],
    ['signature', getError(smithy.refused()), 'refused', 'the request for the signature could not connect: connection refused'],
    ['token', tokenError(smithy.reset()), 'reset', 'the token request (PUT latest/api/token) was cut off: connection reset'],
    ['document', getError(smithy.unreachable()), 'network', 'the request for the identity document failed: EHOSTUNREACH'],
    [
      'token',
      tokenError(smithy.status('Failed to fetch metadata token', 403), true),
      'http',
      'the token request (PUT latest/api/token) got HTTP 403',
    ],
    ['token', tokenError(smithy.status('Failed to fetch metadata token', 200)), 'unusable', 'the token came back empty'],
    ['signature', getError(smithy.status('Request failed', 404)), 'http', 'the request for the signature got HTTP 404'],
  ] as const)("%s: the pinned SDK's shape gives %s (%s)", (phase, error, kind, detail) => {
    expect(classifyError(phase, error)).toMatchObject({ phase, kind, detail })
  })

  it('classifies by name, code and status along the cause chain, whatever the words', () => {
    const wrap = (cause: Error) => new Error('reworded', { cause })
    expect(classifyError('token', wrap(smithy.requestTimeout())).kind).toBe('response-timeout')
    expect(classifyError('token', wrap(Object.assign(reworded(), { name: 'TimeoutError' }))).kind).toBe('connect-timeout')
    expect(classifyError('document', wrap(Object.assign(reworded(), { code: 'ECONNREFUSED' }))).kind).toBe('refused')
    expect(classifyError('document', wrap(Object.assign(reworded(), { code: 'ECONNRESET' }))).kind).toBe('reset')
    expect(classifyError('token', wrap(Object.assign(reworded(), { $metadata: { httpStatusCode: 403 } })))).toMatchObject({
      kind: 'http',
      status: 403,
    })
  })

  it.each<[string, Parameters<typeof classifyError>[2], string, number | undefined]>([
    [
      'never connected (the SDK destroyed the request)',
      { connected: false, error: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) },
      'connect-timeout',
      undefined,
    ],
    ['refused', { connected: false, error: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }, 'refused', undefined],
    ["connected, then the SDK's request timeout", { connected: true, error: smithy.requestTimeout() }, 'response-timeout', undefined],
    ['connected, then reset', { connected: true, error: Object.assign(new Error('x'), { code: 'ECONNRESET' }) }, 'reset', undefined],
    ['a status', { connected: true, status: 503 }, 'http', 503],
    [
      'a 200 whose body broke off',
      { connected: true, status: 200, error: Object.assign(new Error('aborted'), { code: 'ECONNRESET' }) },
      'network',
      undefined,
    ],
  ])('from the wire: %s', (_, wire, kind, status) => {
    const failure = classifyError('token', reworded(), wire)
    expect(failure.kind).toBe(kind)
    expect(failure.status).toBe(status)
  })

  it('writes every detail as an English sentence about the request or what came back', () => {
    const phases: ImdsPhase[] = ['token', 'document', 'signature']
    for (const phase of phases) {
      const detail = classifyError(phase, reworded(), { connected: true, error: smithy.requestTimeout() }).detail
      expect(detail).toMatch(
        /^the (token request \(PUT latest\/api\/token\)|request for the (identity document|signature)) connected but got no answer in time$/,
      )
    }
    expect(
      classifyError('document', reworded(), {
        connected: true,
        status: 200,
        error: Object.assign(new Error('aborted'), { code: 'ECONNRESET' }),
      }).detail,
    ).toBe('the identity document broke off while arriving (ECONNRESET)')
  })
})

describe('decide', () => {
  const fixes = (hint: string) => hint.match(/\bfix\b/gi) ?? []
  it.each(['token', 'document'] as const)('gives one fix for a 403 on the %s request, naming no second "fix"', (phase) => {
    const verdict = decide({ phase, kind: 'http', status: 403, detail: '' })
    expect(verdict.retry).toBe(false)
    if (verdict.retry) return
    expect(fixes(verdict.hint)).toEqual([])
    expect(verdict.hint.split(';')).toHaveLength(1)
    if (phase === 'token')
      expect(verdict.hint).toMatch(/^aws ec2 modify-instance-metadata-options --instance-id <id> --http-endpoint enabled/)
  })

  it('gives one fix for the hop limit', () => {
    expect(fixes(hopLimitHint)).toEqual([])
    expect(hopLimitHint).toMatch(/^aws ec2 modify-instance-metadata-options --instance-id <id> --http-put-response-hop-limit 2/)
    expect(hopLimitHint).toMatch(/HttpPutResponseHopLimit/)
  })
})
