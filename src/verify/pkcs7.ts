// The parts of an EC2 instance identity PKCS7 that verification needs, read from its BER:
// ContentInfo { signedData, [0] SignedData { version, digestAlgorithms, encapContentInfo { data, [0] content },
// [0] certificates, [1] crls, signerInfos { SignerInfo } } }. Exactly one signer, as EC2 makes it. The
// certificates a PKCS7 carries are skipped, never used: trust comes from src/verify/trust.ts only.

import { type BerElement, berTags, children, contents, isOid, octets, readBer } from './ber.js'

export interface SignerInfo {
  /** The signer's certificate serial number (IssuerAndSerialNumber), lower-case hex without leading zeros. */
  readonly serial: string
  /** The digest algorithm's OID, as content bytes. */
  readonly digestAlgorithm: Buffer
  /**
   * The signed attributes re-tagged as the DER SET OF that the signature covers, or undefined when
   * there are none (the signature then covers the content itself).
   */
  readonly signedAttributes: Buffer | undefined
  /** The messageDigest attribute's value, when there are signed attributes. */
  readonly messageDigest: Buffer | undefined
  readonly signatureAlgorithm: Buffer
  readonly signature: Buffer
}

export interface SignedIdentity {
  /** The signed content: the identity document as EC2 embedded it. */
  readonly content: Buffer
  readonly signer: SignerInfo
}

const oid = (hex: string): Buffer => Buffer.from(hex, 'hex')
export const oids = {
  signedData: oid('2a864886f70d010702'),
  data: oid('2a864886f70d010701'),
  contentType: oid('2a864886f70d010903'),
  messageDigest: oid('2a864886f70d010904'),
  sha1: oid('2b0e03021a'),
  sha256: oid('608648016503040201'),
} as const

/** Thrown for anything that is not the PKCS7 shape EC2 produces; the message is a reason for a log line. */
export class MalformedPkcs7Error extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MalformedPkcs7Error'
  }
}

function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new MalformedPkcs7Error(message)
}

function serialHex(der: Uint8Array, el: BerElement): string {
  expect(el.tag === berTags.integer && el.end > el.start && el.end - el.start <= 32, 'its signer serial number is not an INTEGER')
  return contents(der, el)
    .toString('hex')
    .replace(/^0+(?=.)/, '')
}

/** The one AlgorithmIdentifier's OID. */
function algorithm(der: Uint8Array, el: BerElement | undefined, what: string): Buffer {
  expect(el?.tag === berTags.sequence, `its ${what} is not an AlgorithmIdentifier`)
  const [id] = children(der, el, 2)
  expect(id?.tag === berTags.oid && id.end - id.start <= 16, `its ${what} has no OBJECT IDENTIFIER`)
  return contents(der, id)
}

/** contentType must be id-data; messageDigest is returned. Every attribute holds exactly one value here. */
function readAttributes(der: Uint8Array, attrs: BerElement): Buffer {
  expect(attrs.definite, 'its signed attributes are not DER (an indefinite length)')
  let digest: Buffer | undefined
  let type = false
  for (const attr of children(der, attrs, 16)) {
    expect(attr.tag === berTags.sequence, 'a signed attribute is not a SEQUENCE')
    const [id, values] = children(der, attr, 2)
    expect(id?.tag === berTags.oid && values?.tag === berTags.set, 'a signed attribute is not { type, SET OF value }')
    const isDigest = isOid(der, id, oids.messageDigest)
    const isType = isOid(der, id, oids.contentType)
    if (!isDigest && !isType) continue
    const list = children(der, values, 2)
    expect(list.length === 1, 'a signed attribute has other than one value')
    if (isDigest) {
      expect(digest === undefined, 'the messageDigest attribute appears twice')
      digest = octets(der, list[0]!)
    } else {
      expect(!type && isOid(der, list[0], oids.data), 'the contentType attribute is not id-data')
      type = true
    }
  }
  expect(digest !== undefined, 'its signed attributes have no messageDigest')
  expect(type, 'its signed attributes have no contentType')
  return digest
}

function readSigner(der: Uint8Array, el: BerElement): SignerInfo {
  expect(el.tag === berTags.sequence, 'its SignerInfo is not a SEQUENCE')
  const parts = children(der, el, 7)
  const [version, sid, digestAlg] = parts
  expect(version?.tag === berTags.integer, 'its SignerInfo has no version')
  expect(sid?.tag === berTags.sequence, 'its signer is not named by issuer and serial number')
  const [issuer, serial] = children(der, sid, 2)
  expect(issuer?.tag === berTags.sequence && serial !== undefined, 'its signer is not named by issuer and serial number')
  let rest = parts.slice(3)
  let signedAttributes: Buffer | undefined
  let messageDigest: Buffer | undefined
  if (rest[0]?.tag === berTags.implicit0) {
    const attrs = rest[0]
    messageDigest = readAttributes(der, attrs)
    // The signature covers the attributes' DER with the SET OF tag, not the [0] IMPLICIT one (RFC 5652, 5.4).
    signedAttributes = Buffer.from(der.subarray(attrs.offset, attrs.next))
    signedAttributes[0] = berTags.set
    rest = rest.slice(1)
  }
  const [sigAlg, signature] = rest
  expect(signature?.tag === berTags.octetString && !signature.constructed, 'its SignerInfo has no signature OCTET STRING')
  expect(rest.length <= 3 && (rest[2] === undefined || rest[2].tag === berTags.context1), 'its SignerInfo has unexpected fields')
  return {
    serial: serialHex(der, serial),
    digestAlgorithm: algorithm(der, digestAlg, 'digest algorithm'),
    signedAttributes,
    messageDigest,
    signatureAlgorithm: algorithm(der, sigAlg, 'signature algorithm'),
    signature: contents(der, signature),
  }
}

/** Reads the signed content and the one signer. Throws MalformedPkcs7Error naming the first thing wrong. */
export function parseSignedIdentity(der: Uint8Array): SignedIdentity {
  try {
    const contentInfo = readBer(der, 0, der.length)
    expect(contentInfo.next === der.length, 'it has bytes after its ContentInfo')
    expect(contentInfo.tag === berTags.sequence, 'its outer element is not a SEQUENCE')
    const [type, explicit] = children(der, contentInfo, 2)
    expect(isOid(der, type, oids.signedData), 'its content type is not signedData')
    expect(explicit?.tag === berTags.context0, 'its ContentInfo holds no [0] content')
    const [signedData] = children(der, explicit, 1)
    expect(signedData?.tag === berTags.sequence, 'its content is not a SignedData SEQUENCE')
    const fields = children(der, signedData, 6)
    const encap = fields[2]
    expect(encap?.tag === berTags.sequence, 'its SignedData has no encapContentInfo SEQUENCE')
    const [encapType, wrapped] = children(der, encap, 2)
    expect(isOid(der, encapType, oids.data), 'its signed content is not of type data')
    expect(wrapped?.tag === berTags.context0, 'it embeds no signed content')
    const [octetString] = children(der, wrapped, 1)
    expect(octetString !== undefined, 'its [0] content is empty')
    const content = octets(der, octetString)
    // certificates [0] and crls [1] may follow, then the SET of SignerInfos, last.
    const tail = fields.slice(3)
    const signers = tail[tail.length - 1]
    expect(signers?.tag === berTags.set, 'its SignedData has no SignerInfos SET')
    expect(
      tail.slice(0, -1).every((f) => f.tag === berTags.context0 || f.tag === berTags.context1),
      'its SignedData has unexpected fields',
    )
    const list = children(der, signers, 2)
    expect(list.length === 1, `it has ${list.length} signers, not one`)
    return { content, signer: readSigner(der, list[0]!) }
  } catch (error) {
    if (error instanceof MalformedPkcs7Error) throw error
    throw new MalformedPkcs7Error(`its BER is malformed: ${(error as Error).message}`)
  }
}
