// The identity document as the verifier reads it, from the signed content only (never from a
// document sent beside it): the fields policy and logs see.

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

/** The fields, or a reason the signed content is not an identity document. */
export function readDocument(content: Buffer): DocumentFields | string {
  if (content.length > maxDocumentBytes) return `the signed document is over ${maxDocumentBytes} bytes`
  let parsed: unknown
  try {
    parsed = JSON.parse(content.toString('utf8'))
  } catch {
    return 'the signed document is not JSON'
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'the signed document is not a JSON object'
  const fields = parsed as Record<string, unknown>
  const result: Record<string, string> = {}
  for (const [name, shape] of Object.entries(shapes)) {
    const value = fields[name]
    if (typeof value !== 'string' || !shape.test(value)) return `the signed document's ${name} is missing or malformed`
    result[name] = value
  }
  if (Number.isNaN(Date.parse(result['pendingTime']!))) return "the signed document's pendingTime is not a date"
  return result as unknown as DocumentFields
}
