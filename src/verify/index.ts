// The library entry (`iid-docker-auth/verify`) for a team writing its own token server in Node:
//
//   const { createVerifier, createTrustStore, createPolicy } = require('iid-docker-auth/verify')
//   const verifier = createVerifier({ trust: createTrustStore(), policy: createPolicy({ accounts: ['123456789012'] }) })
//   const verdict = await verifier.verify(username, password) // { outcome: 'allowed', identity } or a denial
//
// The same core as `iid-docker-auth verify`; docs/registry-side.md describes each option.

export { BoundedCache } from './cache.js'
export { type Credential, maxPasswordBytes, parseBasicAuthorization, parseExtAuthInput } from './credential.js'
export type { VerifiedIdentity } from './document.js'
export { checkPolicy, createPolicy, parseDuration, type Policy, PolicyError } from './policy.js'
export {
  CertificateError,
  createTrustStore,
  parsePemCertificates,
  shippedCertificates,
  type TrustedKey,
  type TrustStore,
} from './trust.js'
export { createVerifier, type IdentityCheck, type Verdict, type Verifier, type VerifierOptions, verifyPassword } from './verifier.js'
