// The identity document as the verifier reads it, from the signed content only (never from a
// document sent beside it): the fields policy and logs see.

import { asObject, duplicateKeys, parseJson } from '../config/json-document.js'

export interface VerifiedIdentity {
  readonly accountId: string
  readonly instanceId: string
  readonly region: string
  readonly imageId: string
  /** When the instance was launched, as the document says (ISO 8601, UTC). */
  readonly pendingTime: string
  /** Which kind of certificate verified it: DSA (`pkcs7`) or RSA (`rsa2048`, and China's `pkcs7`). */
  readonly keyType: 'dsa' | 'rsa'
}

export type DocumentFields = Omit<VerifiedIdentity, 'keyType'>

const maxDocumentBytes = 16 * 1024
const shapes: Record<keyof DocumentFields, RegExp> = {
  accountId: /^[0-9]{12}$/,
  instanceId: /^i-[0-9a-f]{8,32}$/,
  region: /^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$/,
  imageId: /^ami-[0-9a-f]{8,32}$/,
  pendingTime: /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$/,
}

function parseObject(content: Buffer): Record<string, unknown> | string {
  if (content.length > maxDocumentBytes) return `the signed document is over ${maxDocumentBytes} bytes`
  let parsed: unknown
  try {
    parsed = JSON.parse(content.toString('utf8'))
  } catch {
    return 'the signed document is not JSON'
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'the signed document is not a JSON object'
  return parsed as Record<string, unknown>
}

/**
 * The region the signed content names, which chooses the certificates to check the signature
 * with; the other fields are read only from a document whose signature verified.
 */
export function documentRegion(content: Buffer): string | undefined {
  const fields = parseObject(content)
  const region = typeof fields === 'string' ? undefined : fields['region']
  return typeof region === 'string' && shapes.region.test(region) ? region : undefined
}

function repeatsAKey(content: Buffer): boolean {
  try {
    return duplicateKeys(asObject(parseJson(content.toString('utf8')))!).length > 0
  } catch {
    return true // deeper than the parser goes: nothing EC2 signs
  }
}

/** The fields, or a reason the signed content is not an identity document. */
export function readDocument(content: Buffer): DocumentFields | string {
  const fields = parseObject(content)
  if (typeof fields === 'string') return fields
  // JSON.parse keeps the last of repeated keys, other readers the first: EC2 never repeats one.
  if (repeatsAKey(content)) return 'the signed document repeats a key'
  const result: Record<string, string> = {}
  for (const [name, shape] of Object.entries(shapes)) {
    const value = fields[name]
    if (typeof value !== 'string' || !shape.test(value)) return `the signed document's ${name} is missing or malformed`
    result[name] = value
  }
  const launched = Date.parse(result['pendingTime']!)
  // Date.parse rolls 2026-02-30 over into March: a date must read back as itself.
  if (Number.isNaN(launched) || new Date(launched).toISOString().slice(0, 19) !== result['pendingTime']!.slice(0, 19))
    return "the signed document's pendingTime is not a date"
  return result as unknown as DocumentFields
}
