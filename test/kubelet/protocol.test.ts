// The pure parts of the kubelet modes: image references, Go durations, request parsing.
import { describe, expect, it } from 'vitest'
import { formatGoDuration, imageRegistry, parseGoDuration, parseProviderRequest } from '../../src/kubelet/protocol.js'
import { rejection } from '../support/helpers.js'

const digest = `sha256:${'a'.repeat(64)}`

describe('imageRegistry', () => {
  it.each([
    ['pierone.example.com/team/app:1.0', 'pierone.example.com'],
    ['pierone.example.com/app', 'pierone.example.com'],
    ['reg.example.com:5000/team/app', 'reg.example.com:5000'],
    [`reg.example.com:5000/team/app@${digest}`, 'reg.example.com:5000'],
    [`reg.example.com/app:1.0@${digest}`, 'reg.example.com'],
    ['localhost/app', 'localhost'],
    ['localhost:5000/app:dev', 'localhost:5000'],
    ['127.0.0.1:5000/app', '127.0.0.1:5000'],
    ['[::1]:5000/app', '[::1]:5000'],
    ['Registry.Example.com/app', 'Registry.Example.com'],
    ['docker.io/library/nginx', 'docker.io'],
  ])('%s is on %s', (image, host) => {
    expect(imageRegistry(image)).toEqual({ kind: 'host', host })
  })

  it.each(['nginx', 'nginx:latest', `nginx@${digest}`, 'library/nginx', 'team/app:1.0', 'localhost', 'localhost:5000'])(
    '%s is on Docker Hub',
    (image) => {
      expect(imageRegistry(image)).toEqual({ kind: 'docker-hub' })
    },
  )

  it.each([
    'pierone.example.com/',
    'bad_host.example.com/app',
    'reg.example.com:99999/app',
    'reg.example.com:/app',
    'a b/app',
    'reg.example.com/\napp',
  ])('refuses %j', async (image) => {
    expect((await rejection(Promise.resolve().then(() => imageRegistry(image)))).exitCode).toBe(64)
  })
})

describe('Go durations', () => {
  it.each([
    ['1h', 3_600_000, '1h0m0s'],
    ['90m', 5_400_000, '1h30m0s'],
    ['1h30m', 5_400_000, '1h30m0s'],
    ['45s', 45_000, '45s'],
    ['1.5s', 1500, '1.5s'],
    ['2m3.25s', 123_250, '2m3.25s'],
    ['0', 0, '0s'],
    ['0s', 0, '0s'],
    ['1000ms', 1000, '1s'],
    // Go's two micro signs: U+00B5 and U+03BC.
    ['1000000\u00b5s', 1000, '1s'],
    ['2000000\u03bcs', 2000, '2s'],
    ['8760h', 8760 * 3_600_000, '8760h0m0s'],
  ])('%s is %i ms, printed %s', (text, ms, printed) => {
    expect(parseGoDuration(text, '--cache-duration')).toBe(ms)
    expect(formatGoDuration(ms)).toBe(printed)
  })

  it.each(['', '1', '-1h', '1d', 'h', '500ms', '1h 30m', '8761h', 'PT1H'])('refuses %j', async (text) => {
    const error = await rejection(Promise.resolve().then(() => parseGoDuration(text, '--cache-duration')))
    expect(error.exitCode).toBe(64)
    expect(error.message).toContain('--cache-duration')
  })
})

describe('parseProviderRequest', () => {
  const v1 = 'credentialprovider.kubelet.k8s.io/v1'
  it('takes kubelet’s request, with or without the service account fields', () => {
    expect(parseProviderRequest(JSON.stringify({ apiVersion: v1, kind: 'CredentialProviderRequest', image: 'a.example.com/x' }))).toEqual({
      apiVersion: v1,
      image: 'a.example.com/x',
      hasServiceAccountToken: false,
    })
    const withToken = {
      apiVersion: v1,
      kind: 'CredentialProviderRequest',
      image: 'a.example.com/x',
      serviceAccountToken: 'eyJ',
      serviceAccountAnnotations: { a: 'b' },
      futureField: 1,
    }
    expect(parseProviderRequest(JSON.stringify(withToken)).hasServiceAccountToken).toBe(true)
  })

  it.each([
    ['', /stdin is empty/],
    ['{', /not valid JSON/],
    ['[]', /a JSON object is required, got an array/],
    ['{"kind":"CredentialProviderRequest","image":"a.example.com/x"}', /"apiVersion" is missing/],
    [`{"apiVersion":"${v1}alpha1","kind":"CredentialProviderRequest","image":"x"}`, /unsupported apiVersion/],
    [`{"apiVersion":"${v1}","kind":"CredentialProviderResponse","image":"x"}`, /"kind" is "CredentialProviderResponse"/],
    [`{"apiVersion":"${v1}","kind":"CredentialProviderRequest"}`, /"image" is missing/],
    [`{"apiVersion":"${v1}","kind":"CredentialProviderRequest","image":7}`, /"image" is number/],
    [`{"apiVersion":"${v1}","kind":"CredentialProviderRequest","image":"x","serviceAccountToken":1}`, /serviceAccountToken/],
    [
      `{"apiVersion":"${v1}","kind":"CredentialProviderRequest","image":"x","serviceAccountAnnotations":{"a":1}}`,
      /serviceAccountAnnotations/,
    ],
  ])('refuses %j', async (text, message) => {
    const error = await rejection(Promise.resolve().then(() => parseProviderRequest(text)))
    expect(error.exitCode).toBe(64)
    expect(error.message).toMatch(message)
    expect(error.message).not.toContain('\n')
  })
})
