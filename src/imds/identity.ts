// The instance identity and the credential built from it: pure functions over the IMDS bodies.

import { children, octets, readBer } from '../verify/ber.js'
import { credentialPassword } from './credential.js'

export interface InstanceIdentity {
  /** The document exactly as IMDS served it. */
  readonly document: string
  /** The signature exactly as IMDS served it (base64 lines, no PEM armour). Secret. */
  readonly signature: string
  readonly instanceId: string
  readonly accountId: string
  readonly region: string
  readonly availabilityZone: string | undefined
}

/** Why a body from IMDS cannot be used; retried until the deadline (exit 65). */
export class UnusableIdentityError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UnusableIdentityError'
  }
}

interface DocumentFields {
  instanceId: string
  accountId: string
  region: string
  availabilityZone: string | undefined
}

export function parseIdentityDocument(document: string): DocumentFields {
  if (document.trim() === '') throw new UnusableIdentityError('the identity document is empty')
  let parsed: unknown
  try {
    parsed = JSON.parse(document)
  } catch {
    throw new UnusableIdentityError('the identity document is not valid JSON')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UnusableIdentityError('the identity document is not a JSON object')
  }
  const fields = parsed as Record<string, unknown>
  const missing = ['instanceId', 'accountId', 'region'].filter((k) => typeof fields[k] !== 'string' || fields[k] === '')
  if (missing.length > 0) throw new UnusableIdentityError(`the identity document lacks ${missing.join(', ')}`)
  const az = fields['availabilityZone']
  return {
    instanceId: fields['instanceId'] as string,
    accountId: fields['accountId'] as string,
    region: fields['region'] as string,
    availabilityZone: typeof az === 'string' ? az : undefined,
  }
}

const base64Lines = /^[A-Za-z0-9+/=\r\n]+$/

/** Decodes the signature and checks that it is base64 of an ASN.1 SEQUENCE. Returns the DER/BER bytes. */
export function decodeSignature(signature: string): Buffer {
  const compact = signature.replace(/[\r\n]/g, '')
  if (compact === '') throw new UnusableIdentityError('the PKCS7 signature is empty')
  if (!base64Lines.test(signature.trim()) || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
    throw new UnusableIdentityError('the PKCS7 signature is not base64')
  }
  const der = Buffer.from(compact, 'base64')
  if (der.length < 2 || der[0] !== 0x30) throw new UnusableIdentityError('the PKCS7 signature does not decode to an ASN.1 SEQUENCE')
  return der
}

const oidSignedData = Buffer.from('2a864886f70d010702', 'hex')
const tags = { oid: 0x06, sequence: 0x30, context0: 0xa0 }

/**
 * The content a PKCS7 embeds: ContentInfo { signedData, [0] SignedData { version, digestAlgorithms,
 * encapContentInfo { type, [0] OCTET STRING } ... } }, each element within its parent. Only that path
 * is walked: signers, certificates and the signature itself are the registry's to verify. Undefined
 * when nothing is embedded. Throws an Error naming the first thing wrong.
 */
function signedContent(der: Buffer): Buffer | undefined {
  const contentInfo = readBer(der, 0, der.length)
  if (contentInfo.tag !== tags.sequence) throw new Error('its outer element is not a SEQUENCE')
  const [type, explicit] = children(der, contentInfo)
  if (type?.tag !== tags.oid || !der.subarray(type.start, type.end).equals(oidSignedData))
    throw new Error('its content type is not signedData')
  if (explicit?.tag !== tags.context0) throw new Error('its ContentInfo holds no [0] content')
  const [signedData] = children(der, explicit)
  if (signedData?.tag !== tags.sequence) throw new Error('its content is not a SignedData SEQUENCE')
  // version INTEGER, digestAlgorithms SET, then encapContentInfo.
  const encap = children(der, signedData)[2]
  if (encap?.tag !== tags.sequence) throw new Error('its SignedData has no encapContentInfo SEQUENCE')
  const [, content] = children(der, encap)
  if (content === undefined) return undefined
  if (content.tag !== tags.context0) throw new Error('its encapContentInfo holds no [0] content')
  const [octetString] = children(der, content)
  if (octetString === undefined) throw new Error('its [0] content is empty')
  return octets(der, octetString)
}

/** The content that a PKCS7 SignedData embeds, or undefined when it embeds none or is malformed. Never throws. */
export function embeddedContent(der: Buffer): Buffer | undefined {
  try {
    return signedContent(der)
  } catch {
    return undefined
  }
}

/**
 * Validates both bodies; throws UnusableIdentityError naming what is wrong. The PKCS7 must embed the
 * served document byte for byte, as EC2's always does: anything else comes from something that is
 * not IMDS (a proxy, a cache, a captive portal), and every registry would refuse it.
 */
export function validateIdentity(document: string, signature: string): InstanceIdentity {
  const fields = parseIdentityDocument(document)
  const der = decodeSignature(signature)
  let embedded: Buffer | undefined
  try {
    embedded = signedContent(der)
  } catch (error) {
    throw new UnusableIdentityError(`the PKCS7 signature is not a well-formed PKCS7 SignedData: ${(error as Error).message}`)
  }
  if (embedded === undefined) throw new UnusableIdentityError('the PKCS7 signature does not embed the identity document')
  if (!embedded.equals(Buffer.from(document, 'utf8')))
    throw new UnusableIdentityError('the PKCS7 signature embeds a different document than the one served')
  return { document, signature, ...fields }
}

export const defaultUsername = 'instance-identity-document'

/**
 * The Docker `auth` value: padded standard base64 of `<username>:<pkcs7>` on one line. The PKCS7
 * keeps IMDS's line breaks unless `stripNewlines`, because Pier One's verifier receives it verbatim.
 */
export function buildAuth(username: string, signature: string, stripNewlines: boolean): string {
  const password = credentialPassword(signature, stripNewlines)
  return Buffer.from(`${username}:${password}`, 'utf8').toString('base64')
}
