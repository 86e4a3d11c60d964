// Which certificates a document's signature may verify against: AWS's published ones for the
// document's region (shipped in this package), plus any given with --certs, tried for every region.
// A certificate inside the PKCS7 is never among them. Certificates are parsed when a region first
// needs them, so a one-shot check (docker_auth runs one process per login) parses one or two.

import { type KeyObject, X509Certificate } from 'node:crypto'
import { pkcs7Certificates } from './aws-certificates-pkcs7.js'
import { rsa2048CertificatesA } from './aws-certificates-rsa2048-a.js'
import { rsa2048CertificatesB } from './aws-certificates-rsa2048-b.js'

/** A certificate as shipped: the regions it signs for ("*": every region without its own) and its DER in base64 lines. */
export interface ShippedCertificate {
  readonly regions: readonly string[]
  readonly der: readonly string[]
}

export interface TrustedKey {
  /** Serial number, lower-case hex without leading zeros (as SignerInfo names its signer). */
  readonly serial: string
  readonly key: KeyObject
  readonly type: 'dsa' | 'rsa'
  /** Where it came from, for messages: `AWS <region>` or the --certs file. */
  readonly source: string
}

export interface TrustStore {
  /** The keys a document claiming `region` may be signed with. */
  forRegion(region: string): readonly TrustedKey[]
}

export class CertificateError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CertificateError'
  }
}

function trustedKey(cert: X509Certificate, source: string): TrustedKey {
  const type = cert.publicKey.asymmetricKeyType
  if (type !== 'dsa' && type !== 'rsa')
    throw new CertificateError(`${source}: a ${type ?? 'unknown'} key; only DSA and RSA keys sign identities`)
  return { serial: cert.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''), key: cert.publicKey, type, source }
}

// Whitespace anywhere in the body (trailing blanks, CRLF), as openssl takes it.
const pemBlock = /-----BEGIN CERTIFICATE-----[ \t]*\r?\n([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g
const maxPemCertificates = 256

/** Every certificate in a PEM text (one or more); throws CertificateError when there is none or one does not parse. */
export function parsePemCertificates(text: string, source: string): TrustedKey[] {
  const keys: TrustedKey[] = []
  for (const match of text.matchAll(pemBlock)) {
    if (keys.length >= maxPemCertificates) throw new CertificateError(`${source}: more than ${maxPemCertificates} certificates`)
    let cert: X509Certificate
    try {
      cert = new X509Certificate(Buffer.from(match[1]!.replace(/\s/g, ''), 'base64'))
    } catch (error) {
      throw new CertificateError(`${source}: certificate ${keys.length + 1} does not parse: ${(error as Error).message}`)
    }
    keys.push(trustedKey(cert, source))
  }
  if (keys.length === 0) throw new CertificateError(`${source}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it`)
  return keys
}

const shippedSets: ReadonlyArray<readonly ShippedCertificate[]> = [pkcs7Certificates, rsa2048CertificatesA, rsa2048CertificatesB]

/** Every shipped certificate with its regions, parsed: for the tests. */
export function shippedCertificates(): Array<{ regions: readonly string[]; certificate: X509Certificate }> {
  return shippedSets.flat().map((c) => ({ regions: c.regions, certificate: new X509Certificate(Buffer.from(c.der.join(''), 'base64')) }))
}

/** Each shipped certificate parsed once, when a region first needs it (never per request, whatever regions are asked). */
const parsedShipped = new Map<ShippedCertificate, TrustedKey>()
function shippedKey(c: ShippedCertificate): TrustedKey {
  let key = parsedShipped.get(c)
  if (key === undefined) {
    key = trustedKey(new X509Certificate(Buffer.from(c.der.join(''), 'base64')), `AWS ${c.regions.join(' ')}`)
    parsedShipped.set(c, key)
  }
  return key
}

/** The shipped certificates for one region, from each set: its own, or the set's "*" one. */
function shippedFor(region: string): TrustedKey[] {
  return shippedSets.flatMap((set) => {
    const own = set.filter((c) => c.regions.includes(region))
    return (own.length > 0 ? own : set.filter((s) => s.regions.includes('*'))).map(shippedKey)
  })
}

const regionPattern = /^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$/

/**
 * The trust store: AWS's certificates when `shipped` (the default), and `extra` for every region.
 * A region name that is not shaped like one gets the extra keys only.
 */
export function createTrustStore(options: { shipped?: boolean; extra?: readonly TrustedKey[] } = {}): TrustStore {
  const extra = options.extra ?? []
  return {
    forRegion: (region) => [...((options.shipped ?? true) && regionPattern.test(region) ? shippedFor(region) : []), ...extra],
  }
}
