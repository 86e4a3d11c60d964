// Whether the signature in a parsed PKCS7 was made by one of the trusted keys over the content it
// carries: the messageDigest attribute must equal the content's digest, and the signature must
// verify over the DER SET of the signed attributes, which EC2's signatures always have (one without
// them is refused: nothing EC2 sends looks like it). The signer is matched by serial number among
// the trusted keys only.

import { createHash, verify } from 'node:crypto'
import { oids, type SignedIdentity } from './pkcs7.js'
import type { TrustedKey } from './trust.js'

export type SignatureCheck = { readonly ok: true; readonly key: TrustedKey } | { readonly ok: false; readonly reason: string }

function digestName(oid: Buffer): 'sha1' | 'sha256' | undefined {
  if (oid.equals(oids.sha1)) return 'sha1'
  if (oid.equals(oids.sha256)) return 'sha256'
  return undefined
}

/** Checks `signed` against `keys` (those trusted for the document's region); never throws. */
export function checkSignature(signed: SignedIdentity, keys: readonly TrustedKey[], region: string): SignatureCheck {
  const { signer, content } = signed
  const digest = digestName(signer.digestAlgorithm)
  if (digest === undefined) return { ok: false, reason: 'the PKCS7 uses a digest other than SHA-1 or SHA-256' }
  if (signer.signedAttributes === undefined) return { ok: false, reason: 'the PKCS7 has no signed attributes, as EC2 signatures always do' }
  if (
    !createHash(digest)
      .update(content)
      .digest()
      .equals(signer.messageDigest ?? Buffer.alloc(0))
  )
    return { ok: false, reason: 'the PKCS7 messageDigest does not match its content (a changed document)' }
  const data = signer.signedAttributes
  const candidates = keys.filter((k) => k.serial === signer.serial)
  if (candidates.length === 0)
    return { ok: false, reason: `the PKCS7 is signed by a certificate (serial ${signer.serial}) not trusted for region ${region}` }
  for (const key of candidates) {
    try {
      if (verify(digest, data, key.key, signer.signature)) return { ok: true, key }
    } catch {
      // A signature of the wrong shape for this key: try the next.
    }
  }
  return { ok: false, reason: `the PKCS7 signature does not verify against the certificate trusted for region ${region}` }
}
