// A reader for the BER that PKCS7 uses, as far as the instance identity needs it: single-byte tags,
// definite and indefinite lengths (EC2's PKCS7 is BER with indefinite lengths), every element within
// its parent. No length field is trusted: each is checked against the bytes that are there.

export interface BerElement {
  readonly tag: number
  readonly constructed: boolean
  /** Start of the element's header (its tag byte). */
  readonly offset: number
  /** Start of the contents. */
  readonly start: number
  /** End of the contents (exclusive), before any end-of-contents marker. */
  readonly end: number
  /** End of the whole element, end-of-contents included. */
  readonly next: number
  /** Whether its length was given (DER needs that; a signed-attributes SET is re-tagged and hashed as it is). */
  readonly definite: boolean
}

const maxBerDepth = 64

export const berTags = {
  integer: 0x02,
  octetString: 0x04,
  oid: 0x06,
  sequence: 0x30,
  set: 0x31,
  context0: 0xa0,
  context1: 0xa1,
  /** [0] IMPLICIT, constructed: the signed attributes. */
  implicit0: 0xa0,
} as const

/** Reads one BER element at `offset`, within `limit`; indefinite lengths are resolved by walking the children. */
export function readBer(buf: Uint8Array, offset: number, limit: number, depth = 0): BerElement {
  if (depth > maxBerDepth) throw new Error('BER nesting too deep')
  if (offset + 2 > limit) throw new Error('an element runs past its parent')
  const first = buf[offset]!
  if (first === 0) throw new Error('an end-of-contents marker where an element belongs')
  if ((first & 0x1f) === 0x1f) throw new Error('a multi-byte tag, which PKCS7 does not use')
  const constructed = (first & 0x20) !== 0
  let pos = offset + 1
  const lengthByte = buf[pos++]!
  if (lengthByte === 0x80) {
    if (!constructed) throw new Error('an indefinite length on a primitive element')
    const start = pos
    while (pos + 2 <= limit && !(buf[pos] === 0 && buf[pos + 1] === 0)) {
      pos = readBer(buf, pos, limit, depth + 1).next
    }
    if (pos + 2 > limit) throw new Error('an indefinite length without its end-of-contents marker')
    return { tag: first, constructed, offset, start, end: pos, next: pos + 2, definite: false }
  }
  let length = lengthByte
  if (lengthByte & 0x80) {
    const count = lengthByte & 0x7f
    if (count > 4 || pos + count > limit) throw new Error('a length field that does not fit')
    length = 0
    for (let i = 0; i < count; i++) length = length * 256 + buf[pos++]!
  }
  if (pos + length > limit) throw new Error('a length that runs past its parent')
  return { tag: first, constructed, offset, start: pos, end: pos + length, next: pos + length, definite: true }
}

/** The elements inside a constructed one; they must fill it exactly. At most `max` of them. */
export function children(buf: Uint8Array, el: BerElement, max = 64): BerElement[] {
  if (!el.constructed) throw new Error('a primitive element where a constructed one belongs')
  const result: BerElement[] = []
  for (let pos = el.start; pos < el.end; ) {
    if (result.length >= max) throw new Error('more elements than expected')
    const child = readBer(buf, pos, el.end)
    result.push(child)
    pos = child.next
  }
  return result
}

/** Concatenates an OCTET STRING's contents, primitive or constructed (BER chunks). */
export function octets(buf: Uint8Array, el: BerElement, depth = 0): Buffer {
  if ((el.tag & 0x1f) !== berTags.octetString) throw new Error('an OCTET STRING was expected')
  if (depth > 4) throw new Error('OCTET STRING chunks nested too deep')
  if (!el.constructed) return Buffer.from(buf.buffer, buf.byteOffset + el.start, el.end - el.start)
  return Buffer.concat(children(buf, el, 4096).map((c) => octets(buf, c, depth + 1)))
}

/** The contents of a primitive element. */
export function contents(buf: Uint8Array, el: BerElement): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + el.start, el.end - el.start)
}

/** Whether `el` is an OBJECT IDENTIFIER with exactly these content bytes. */
export function isOid(buf: Uint8Array, el: BerElement | undefined, oid: Uint8Array): boolean {
  return el?.tag === berTags.oid && contents(buf, el).equals(oid)
}
