// A bounded cache of verified identities, so that a fleet's boot storm does not verify the same
// signature thousands of times. Keyed by a SHA-256 of the signed parts, never the credential itself;
// entries expire after a TTL (monotonic clock) and the oldest go first when it is full.

import { createHash } from 'node:crypto'
import { monotonicMs } from '../clock.js'
import type { SignedIdentity } from './pkcs7.js'

/**
 * The key for a credential: a hash of what its signature covers and the signature (the user name
 * is the verifier's one), so the cache holds nothing that could be replayed.
 */
export function signedKey(signed: SignedIdentity): string {
  const { signer, content } = signed
  const hash = createHash('sha256')
  for (const part of [signer.serial, signer.digestAlgorithm, signer.signedAttributes ?? '', signer.signature, content])
    hash
      .update(String(Buffer.byteLength(part)))
      .update(':')
      .update(part)
  return hash.digest('base64url')
}

export class BoundedCache<V> {
  readonly #entries = new Map<string, { value: V; expires: number }>()

  constructor(
    readonly maxEntries: number,
    readonly ttlMs: number,
    private readonly now: () => number = monotonicMs,
  ) {
    if (!(maxEntries >= 0) || !(ttlMs >= 0)) throw new RangeError('cache bounds must be zero or more')
  }

  get size(): number {
    return this.#entries.size
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expires <= this.now()) {
      this.#entries.delete(key)
      return undefined
    }
    return entry.value
  }

  set(key: string, value: V): void {
    if (this.maxEntries === 0 || this.ttlMs === 0) return
    this.#entries.delete(key)
    while (this.#entries.size >= this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!)
    this.#entries.set(key, { value, expires: this.now() + this.ttlMs })
  }
}
