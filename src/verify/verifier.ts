// One verification, from a user name and password to a verdict: the user name must be the configured
// one; the password must be a PKCS7 that a trusted key signed over an identity document; the document
// must pass the policy; and, when configured, an extra check (the instance still running) must pass.
// Every failure is a denial with one reason, which never contains the credential.

import { defaultUsername } from '../imds/identity.js'
import { BoundedCache, credentialKey } from './cache.js'
import { decodePassword } from './credential.js'
import { type VerifiedIdentity, readDocument } from './document.js'
import { type Policy, checkPolicy } from './policy.js'
import { MalformedPkcs7Error, parseSignedIdentity } from './pkcs7.js'
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

/** The signature and the document alone, without policy: a verified identity or the reason there is none. Pure. */
export function verifyPassword(password: string, trust: TrustStore): VerifiedIdentity | { reason: string } {
  const der = decodePassword(password)
  if (typeof der === 'string') return { reason: der }
  let signed: ReturnType<typeof parseSignedIdentity>
  try {
    signed = parseSignedIdentity(der)
  } catch (error) {
    if (error instanceof MalformedPkcs7Error) return { reason: `the PKCS7 is not usable: ${error.message}` }
    throw error
  }
  const fields = readDocument(signed.content)
  if (typeof fields === 'string') return { reason: fields }
  const check = checkSignature(signed, trust.forRegion(fields.region), fields.region)
  if (!check.ok) return { reason: check.reason }
  return { ...fields, keyType: check.key.type }
}

export function createVerifier(options: VerifierOptions): Verifier {
  const username = options.username ?? defaultUsername
  const bounds = options.cache ?? { maxEntries: 10_000, ttlMs: 5 * 60_000 }
  const cache = new BoundedCache<VerifiedIdentity>(bounds.maxEntries, bounds.ttlMs)
  const now = options.now ?? Date.now
  return {
    async verify(user, password) {
      if (user !== username) return { outcome: 'other-user' }
      const key = credentialKey(user, password)
      let identity = cache.get(key)
      const cached = identity !== undefined
      if (identity === undefined) {
        const result = verifyPassword(password, options.trust)
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
