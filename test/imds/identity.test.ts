import { describe, expect, it } from 'vitest'
import { UnusableIdentityError, buildAuth, decodeSignature, embeddedContent, validateIdentity } from '../../src/imds/identity.js'
import { defaultDocumentFields, formatDocument, signLikeEc2 } from '../../sim/imds-simulator.js'

const document = formatDocument(defaultDocumentFields)

/** A DER element with a definite length. */
function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents)
  const n = body.length
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff])
  return Buffer.concat([Buffer.from([tag]), length, body])
}
const oid = (hex: string): Buffer => tlv(0x06, Buffer.from(hex, 'hex'))
const signedDataOid = oid('2a864886f70d010702')
const dataOid = oid('2a864886f70d010701')
const integer = (n: number): Buffer => tlv(0x02, Buffer.from([n]))
const sha1 = tlv(0x30, oid('2b0e03021a'), Buffer.from([0x05, 0x00]))

/** A PKCS7 SignedData in DER (definite lengths), with its parts replaceable; the signature is not real. */
function pkcs7(
  parts: {
    type?: Buffer
    version?: Buffer
    digests?: Buffer
    encap?: Buffer
    certificates?: Buffer
    signers?: Buffer
    content?: string | null
  } = {},
): Buffer {
  const content = parts.content === undefined ? document : parts.content
  const encap = parts.encap ?? tlv(0x30, dataOid, ...(content === null ? [] : [tlv(0xa0, tlv(0x04, Buffer.from(content, 'utf8')))]))
  const signer = tlv(
    0x30,
    integer(1),
    tlv(0x30, tlv(0x30), integer(1)),
    sha1,
    tlv(0x30, oid('2a8648ce380403')),
    tlv(0x04, Buffer.alloc(46, 1)),
  )
  const signedData = tlv(
    0x30,
    parts.version ?? integer(1),
    parts.digests ?? tlv(0x31, sha1),
    encap,
    ...(parts.certificates ? [parts.certificates] : []),
    parts.signers ?? tlv(0x31, signer),
  )
  return tlv(0x30, parts.type ?? signedDataOid, tlv(0xa0, signedData))
}
const b64 = (der: Buffer): string =>
  der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')

describe('validateIdentity', () => {
  it('accepts an EC2-style document and DSA/SHA-1 PKCS7 that embeds it (indefinite-length BER)', () => {
    const signature = signLikeEc2(document, 'pkcs7')
    expect(signature).toContain('\n') // served as base64 lines
    expect(signature.split('\n').every((line) => line.length <= 64)).toBe(true)
    const der = decodeSignature(signature)
    expect(der[1]).toBe(0x80) // indefinite length, as EC2 serves it
    const identity = validateIdentity(document, signature)
    expect(identity).toMatchObject({
      instanceId: 'i-0123456789abcdef0',
      accountId: '123456789012',
      region: 'eu-central-1',
      availabilityZone: 'eu-central-1a',
    })
  })

  it('accepts the RSA/SHA-256 signature, and finds the embedded document in it', () => {
    const signature = signLikeEc2(document, 'rsa2048')
    expect(validateIdentity(document, signature).signature).toBe(signature)
    expect(embeddedContent(decodeSignature(signature))?.toString('utf8')).toBe(document)
  })

  it('accepts a well-formed SignedData in DER (definite lengths), with or without certificates', () => {
    expect(validateIdentity(document, b64(pkcs7())).instanceId).toBe('i-0123456789abcdef0')
    expect(validateIdentity(document, b64(pkcs7({ certificates: tlv(0xa0, tlv(0x30, integer(1))) }))).instanceId).toBe(
      'i-0123456789abcdef0',
    )
  })

  it('refuses a PKCS7 that embeds a different document', () => {
    const other = formatDocument({ ...defaultDocumentFields, instanceId: 'i-0fffffffffffffff0' })
    expect(() => validateIdentity(document, signLikeEc2(other, 'pkcs7'))).toThrow(
      new UnusableIdentityError('the PKCS7 signature embeds a different document than the one served'),
    )
    expect(() => validateIdentity(document, b64(pkcs7({ content: `${document}\n` })))).toThrow(/embeds a different document/)
  })

  it('refuses a PKCS7 that embeds no document', () => {
    expect(() => validateIdentity(document, b64(pkcs7({ content: null })))).toThrow(
      new UnusableIdentityError('the PKCS7 signature does not embed the identity document'),
    )
  })

  const real = decodeSignature(signLikeEc2(document, 'pkcs7'))
  /** The real signature with its outer indefinite length turned into a definite one of `length`. */
  const withOuterLength = (length: number): Buffer => {
    const inner = real.subarray(2, real.length - 2)
    return Buffer.concat([Buffer.from([0x30, 0x82, length >> 8, length & 0xff]), inner])
  }

  // What only the registry's verification decides is left to it: the document is what matters here.
  it.each([
    ['bytes after the real one', Buffer.concat([real, Buffer.from('3000', 'hex')])],
    ['a SignedData without signerInfos', pkcs7({ signers: Buffer.alloc(0) })],
    ['a SignedData with an empty signerInfos', pkcs7({ signers: tlv(0x31) })],
  ])('accepts %s when it embeds the served document', (_, der) => {
    expect(validateIdentity(document, b64(der)).instanceId).toBe('i-0123456789abcdef0')
  })

  it.each([
    ['an empty SEQUENCE (MAA=)', Buffer.from('3000', 'hex'), /its content type is not signedData/],
    ['an INTEGER in a SEQUENCE', Buffer.from('3003020105', 'hex'), /its content type is not signedData/],
    ['a truncated SEQUENCE', Buffer.from('30800609', 'hex'), /runs past its parent|end-of-contents/],
    ['an outer length that claims more than there is', withOuterLength(real.length - 4 + 100), /runs past its parent/],
    ['an outer length that claims less than there is', withOuterLength(real.length - 4 - 100), /runs past its parent/],
    ['the real one without its last end-of-contents marker', real.subarray(0, real.length - 2), /without its end-of-contents marker/],
    [
      'an inner length that lies',
      (() => {
        const d = pkcs7()
        const at = d.indexOf(integer(1))
        d[at + 1] = 0x7f
        return d
      })(),
      /runs past its parent/,
    ],
    ['another content type (data)', pkcs7({ type: dataOid }), /its content type is not signedData/],
    ['a SignedData without a version', pkcs7({ version: Buffer.alloc(0) }), /no encapContentInfo SEQUENCE/],
    ['a SignedData without digestAlgorithms', pkcs7({ digests: Buffer.alloc(0) }), /no encapContentInfo SEQUENCE/],
    ['an encapContentInfo whose content is not [0]', pkcs7({ encap: tlv(0x30, dataOid, tlv(0x04)) }), /holds no \[0\] content/],
    ['an encapContentInfo that is not a SEQUENCE', pkcs7({ encap: tlv(0x31, dataOid) }), /no encapContentInfo SEQUENCE/],
  ])('refuses %s as unusable data', (_, der, reason) => {
    expect(() => validateIdentity(document, b64(der))).toThrow(UnusableIdentityError)
    expect(() => validateIdentity(document, b64(der))).toThrow(reason)
    expect(() => validateIdentity(document, b64(der))).toThrow(/^the PKCS7 signature is not a well-formed PKCS7 SignedData: /)
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
  const pkcs7 =
    'MIAGCSqGSIb3DQEHAqCAMIACAQExCzAJBgUrDgMCGgUAMIAGCSqGSIb3DQEHAaCA\nJIAEggHkewogICJhY2NvdW50SWQiIDogIjEyMzQ1Njc4OTAxMiIsCiAgImFyY2hp'

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
