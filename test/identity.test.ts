import { describe, expect, it } from 'vitest'
import { UnusableIdentityError, buildAuth, decodeSignature, embeddedContent, validateIdentity } from '../src/imds/identity.js'
import { defaultDocumentFields, formatDocument, signLikeEc2 } from '../sim/imds-simulator.js'

const document = formatDocument(defaultDocumentFields)

describe('validateIdentity', () => {
  it('accepts an EC2-style document and DSA/SHA-1 PKCS7 that embeds it (indefinite-length BER)', () => {
    const pkcs7 = signLikeEc2(document, 'pkcs7')
    expect(pkcs7).toContain('\n') // served as base64 lines
    expect(pkcs7.split('\n').every((line) => line.length <= 64)).toBe(true)
    const der = decodeSignature(pkcs7)
    expect(der[1]).toBe(0x80) // indefinite length, as EC2 serves it
    const identity = validateIdentity(document, pkcs7)
    expect(identity).toMatchObject({ instanceId: 'i-0123456789abcdef0', accountId: '123456789012', region: 'eu-central-1', availabilityZone: 'eu-central-1a' })
    expect(identity.embeddedMismatch).toBe(false)
  })

  it('finds the embedded document in the RSA/SHA-256 signature too', () => {
    const der = decodeSignature(signLikeEc2(document, 'rsa2048'))
    expect(embeddedContent(der)?.toString('utf8')).toBe(document)
  })

  it('flags a PKCS7 that embeds a different document', () => {
    const other = formatDocument({ ...defaultDocumentFields, instanceId: 'i-0fffffffffffffff0' })
    expect(validateIdentity(document, signLikeEc2(other, 'pkcs7')).embeddedMismatch).toBe(true)
  })

  it('does not fail on a SEQUENCE it cannot parse as SignedData', () => {
    const notSignedData = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]).toString('base64')
    expect(validateIdentity(document, notSignedData).embeddedMismatch).toBe(false)
    const truncated = Buffer.from([0x30, 0x80, 0x06, 0x09]).toString('base64')
    expect(embeddedContent(Buffer.from(truncated, 'base64'))).toBeUndefined()
  })

  it.each([
    ['', 'MAA=', /document is empty/],
    ['not json', 'MAA=', /not valid JSON/],
    ['[]', 'MAA=', /not a JSON object/],
    ['{"instanceId":"i-1","region":"r"}', 'MAA=', /lacks accountId/],
    ['{"instanceId":"","accountId":"1","region":"r"}', 'MAA=', /lacks instanceId/],
    [document, '', /signature is empty/],
    [document, '\n', /signature is empty/],
    [document, 'not base64!', /not base64/],
    [document, 'MAA', /not base64/],
    [document, Buffer.from('hello').toString('base64'), /does not decode to an ASN.1 SEQUENCE/],
  ])('refuses document %j / signature %j', (doc, sig, reason) => {
    expect(() => validateIdentity(doc, sig)).toThrow(UnusableIdentityError)
    expect(() => validateIdentity(doc, sig)).toThrow(reason)
  })
})

describe('buildAuth', () => {
  const pkcs7 = 'MIAGCSqGSIb3DQEHAqCAMIACAQExCzAJBgUrDgMCGgUAMIAGCSqGSIb3DQEHAaCA\nJIAEggHkewogICJhY2NvdW50SWQiIDogIjEyMzQ1Njc4OTAxMiIsCiAgImFyY2hp'

  it('is padded standard base64 on one line of "<user>:<pkcs7 verbatim>"', () => {
    const auth = buildAuth('instance-identity-document', pkcs7, false)
    expect(auth).toMatch(/^[A-Za-z0-9+/]+={0,2}$/)
    expect(auth.length % 4).toBe(0)
    expect(Buffer.from(auth, 'base64').toString('utf8')).toBe(`instance-identity-document:${pkcs7}`)
  })

  it('keeps the newlines by default and strips them with stripNewlines', () => {
    expect(Buffer.from(buildAuth('u', `${pkcs7}\n`, false), 'base64').toString()).toBe(`u:${pkcs7}\n`)
    expect(Buffer.from(buildAuth('u', `${pkcs7}\r\n`, true), 'base64').toString()).toBe(`u:${pkcs7.replace('\n', '')}`)
  })
})
