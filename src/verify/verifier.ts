// One verification, from a user name and password to a verdict: the user name must be the configured
// one; the password must be a PKCS7 that a trusted key signed over an identity document; the document
// must pass the policy; and, when configured, an extra check (the instance still running) must pass.
// Every failure is a denial with one reason, which never contains the credential.

import { defaultUsername } from '../imds/identity.js'
import { BoundedCache, signedKey } from './cache.js'
import { decodePassword } from './credential.js'
import { type VerifiedIdentity, documentRegion, readDocument } from './document.js'
import { type Policy, checkPolicy } from './policy.js'
import { MalformedPkcs7Error, type SignedIdentity, parseSignedIdentity } from './pkcs7.js'
import { checkSignature } from './signature.js'
import type { TrustStore } from './trust.js'

export type Verdict =
  | { readonly outcome: 'allowed'; readonly identity: VerifiedIdentity; readonly cached: boolean }
  /** Not our user name: docker_auth's "no match" (exit 2), HTTP 401. */
  | { readonly outcome: 'other-user' }
  | { readonly outcome: 'denied'; readonly reason: string; readonly identity?: VerifiedIdentity }

/** A further check on a verified identity (the EC2 running check): undefined to pass, or a reason. */
export type IdentityCheck = (identity: VerifiedIdentity) => Promise<string | undefined>

export interface VerifierOptions {
  readonly trust: TrustStore
  readonly policy: Policy
  /** The user name the credential must carry (default `instance-identity-document`). */
  readonly username?: string
  /** Verified credentials remembered (default 10,000 for 5 minutes); 0 entries turns the cache off. */
  readonly cache?: { readonly maxEntries: number; readonly ttlMs: number }
  readonly extraCheck?: IdentityCheck
  /** Wall-clock now in ms, for --max-age (default Date.now). */
  readonly now?: () => number
}

export interface Verifier {
  verify(username: string, password: string): Promise<Verdict>
}

/** The PKCS7 a password carries, parsed, or the reason it is not one. Pure. */
function parsePassword(password: string): SignedIdentity | { reason: string } {
  const der = decodePassword(password)
  if (typeof der === 'string') return { reason: der }
  try {
    return parseSignedIdentity(der)
  } catch (error) {
    if (error instanceof MalformedPkcs7Error) return { reason: `the PKCS7 is not usable: ${error.message}` }
    throw error
  }
}

/** A parsed PKCS7's signature checked and its document read, without policy. Pure. */
function verifySigned(signed: SignedIdentity, trust: TrustStore): VerifiedIdentity | { reason: string } {
  const region = documentRegion(signed.content)
  if (region === undefined) return { reason: 'the signed content names no region, so no certificate can check it' }
  const check = checkSignature(signed, trust.forRegion(region), region)
  if (!check.ok) return { reason: check.reason }
  const fields = readDocument(signed.content)
  if (typeof fields === 'string') return { reason: fields }
  return { ...fields, keyType: check.key.type }
}

/** The signature and the document alone, without policy: a verified identity or the reason there is none. Pure. */
export function verifyPassword(password: string, trust: TrustStore): VerifiedIdentity | { reason: string } {
  const signed = parsePassword(password)
  return 'reason' in signed ? signed : verifySigned(signed, trust)
}

export function createVerifier(options: VerifierOptions): Verifier {
  const username = options.username ?? defaultUsername
  const bounds = options.cache ?? { maxEntries: 10_000, ttlMs: 5 * 60_000 }
  const cache = new BoundedCache<VerifiedIdentity>(bounds.maxEntries, bounds.ttlMs)
  const now = options.now ?? Date.now
  return {
    async verify(user, password) {
      if (user !== username) return { outcome: 'other-user' }
      const signed = parsePassword(password)
      if ('reason' in signed) return { outcome: 'denied', reason: signed.reason }
      // Keyed by what the signature covers, so another spelling of one credential (base64 variants,
      // changed unsigned fields) is the same entry, not a fresh verification.
      const key = signedKey(signed)
      let identity = cache.get(key)
      const cached = identity !== undefined
      if (identity === undefined) {
        const result = verifySigned(signed, options.trust)
        if ('reason' in result) return { outcome: 'denied', reason: result.reason }
        identity = result
      }
      const refused = checkPolicy(identity, options.policy, now())
      if (refused !== undefined) return { outcome: 'denied', reason: refused, identity }
      if (options.extraCheck !== undefined) {
        const failed = await options.extraCheck(identity)
        if (failed !== undefined) return { outcome: 'denied', reason: failed, identity }
      }
      if (!cached) cache.set(key, identity)
      return { outcome: 'allowed', identity, cached }
    },
  }
}
