// An order-preserving JSON tree. config.json belongs to other tools, so a value we do not own must
// come back exactly: member order, duplicate keys, `__proto__` keys, integers beyond 2^53 and string
// escapes all survive because scalars keep their source text. JSON.parse would lose all of those.

export type JsonNode = JsonObject | JsonArray | JsonString | JsonNumber | JsonLiteral

export interface JsonMember {
  readonly key: string
  /** The key as written in the source, quotes included. */
  readonly rawKey: string
  readonly value: JsonNode
}
export interface JsonObject {
  readonly kind: 'object'
  readonly members: readonly JsonMember[]
}
export interface JsonArray {
  readonly kind: 'array'
  readonly items: readonly JsonNode[]
}
export interface JsonString {
  readonly kind: 'string'
  readonly value: string
  readonly raw: string
}
export interface JsonNumber {
  readonly kind: 'number'
  readonly raw: string
}
export interface JsonLiteral {
  readonly kind: 'literal'
  readonly raw: 'true' | 'false' | 'null'
}

export class JsonSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${reason} at line ${line}, column ${column}`)
    this.name = 'JsonSyntaxError'
  }
}

/** Deeper documents are refused rather than risking the stack; Go's decoder stops at 10,000. */
export const maxJsonDepth = 1000

const numberToken = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y
// Scanning goes through regular expressions where it can: V8 compiles them to machine code, while a
// short-lived process runs most of its own JavaScript in the interpreter (measured: a 1.2 MB file
// took 27 ms to parse cold and 4 ms warm).
const plainRun = /[^"\\\u0000-\u001f]*/y
const whitespaceRun = /[ \t\n\r]*/y
const stringPattern = '"[^"\\\\\\u0000-\\u001f]*(?:\\\\(?:["\\\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\\\\u0000-\\u001f]*)*"'
const scalarPattern = `(?:${stringPattern}|${numberToken.source}|true|false|null)`
const flatObjects = new Map<number, RegExp>()
const laidOutMembers = new Map<number, RegExp>()
/** Objects whose members were all read by readLaidOutMembers, and where those members are. */
const laidOutObjects = new WeakMap<JsonObject, { readonly text: string; readonly start: number; readonly end: number; readonly depth: number }>()
/** Objects made by appendMembers: the object they extend, and how many members came from it. */
const appendedObjects = new WeakMap<JsonObject, { readonly base: JsonObject; readonly baseCount: number }>()

/**
 * `base` with `added` after its members. When `base` is still as parsed and in the layout, the
 * result is serialized by copying base's source (1.5 MB for 10,000 entries) and adding the rest.
 */
export function appendMembers(base: JsonObject, added: readonly JsonMember[]): JsonObject {
  const object: JsonObject = { kind: 'object', members: [...base.members, ...added] }
  appendedObjects.set(object, { base, baseCount: base.members.length })
  return object
}

/** What serializeJson would write for `object` at `depth`, taken from the source; undefined if it cannot be. */
function objectFromSource(object: JsonObject, depth: number, write: (n: JsonNode, indent: string) => string): string | undefined {
  const own = laidOutObjects.get(object)
  if (own !== undefined) return own.depth === depth ? `{${own.text.slice(own.start, own.end)}` : undefined
  const appended = appendedObjects.get(object)
  const base = appended === undefined ? undefined : laidOutObjects.get(appended.base)
  if (appended === undefined || base === undefined || base.depth !== depth) return undefined
  // The base's source ends with its closing line, "\n" + depth tabs + "}".
  const indent = '\t'.repeat(depth)
  let out = `{${base.text.slice(base.start, base.end - depth - 2)}`
  for (let i = appended.baseCount; i < object.members.length; i++) {
    const m = object.members[i]!
    out += `,\n${indent}\t${m.rawKey}: ${write(m.value, `${indent}\t`)}`
  }
  return `${out}\n${indent}}`
}
/**
 * An object of scalars exactly as serializeJson lays it out at `depth` (a typical `auths` entry):
 * matched in one native step instead of token by token.
 */
function flatObjectInLayout(depth: number): RegExp {
  let pattern = flatObjects.get(depth)
  if (pattern === undefined) {
    const member = `\\n${'\\t'.repeat(depth + 1)}${stringPattern}: ${scalarPattern}`
    pattern = new RegExp(`\\{${member}(?:,${member})*\\n${'\\t'.repeat(depth)}\\}`, 'y')
    flatObjects.set(depth, pattern)
  }
  return pattern
}
const isHex = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)

export interface ParseOptions {
  /**
   * Objects and arrays this deep (the root is 0) are checked but not built: they keep their place in
   * the source, are built when something reads their members or items, and are copied as they are
   * when they are already in the serialized layout. For config.json, 2 means each `auths` entry:
   * a file with 10,000 entries then costs one native match per entry instead of some 170,000
   * objects built in JavaScript.
   */
  readonly lazyFromDepth?: number
}

/** Parses strict RFC 8259 JSON text into a tree. Throws JsonSyntaxError. */
export function parseJson(text: string, options: ParseOptions = {}): JsonNode {
  const parser = new Parser(text, options.lazyFromDepth ?? Number.POSITIVE_INFINITY, 0)
  const root = parser.readValue(0)
  parser.skipWhitespace()
  if (parser.pos < text.length) parser.fail(`${parser.describe(parser.pos)} after the end of the document`)
  return root
}

/** An object or array left in the source by a lazy parse (see ParseOptions). */
abstract class SourceSpan {
  constructor(
    protected readonly text: string,
    protected readonly start: number,
    protected readonly end: number,
    protected readonly depth: number,
    /** The depth at which the source is already in the serialized layout; -1 if at none. */
    protected readonly layoutDepth: number,
  ) {}

  /** The source text, when it is exactly what serializing at `depth` would produce. */
  sourceInLayout(depth: number): string | undefined {
    return depth === this.layoutDepth ? this.text.slice(this.start, this.end) : undefined
  }

  /** Builds the node; not kept, so that a scan over many entries leaves no garbage behind. */
  protected build(): JsonNode {
    return new Parser(this.text, Number.POSITIVE_INFINITY, this.start).readValue(this.depth)
  }
}

const memberLineStarts = new Map<string, string | undefined>()
/**
 * How a member named `key` starts in the layout at `depth` (newline, tabs, the key, ": "), or
 * undefined for a key that JSON.stringify would escape: such a key might be written either way.
 */
function memberLineStart(depth: number, key: string): string | undefined {
  const id = `${depth} ${key}`
  if (!memberLineStarts.has(id)) memberLineStarts.set(id, /["\\\u0000-\u001f\u007f-\uffff]/.test(key) ? undefined : `\n${'\t'.repeat(depth + 1)}"${key}": `)
  return memberLineStarts.get(id)
}

class SourceObject extends SourceSpan implements JsonObject {
  // On the prototype (below), not on each of the thousands of instances.
  declare readonly kind: 'object'
  get members(): readonly JsonMember[] {
    return (this.build() as JsonObject).members
  }

  /** The value of the last member named `key`, found by a scan that builds only that value. */
  member(key: string): JsonNode | undefined {
    const text = this.text
    const needle = this.layoutDepth === this.depth ? memberLineStart(this.depth, key) : undefined
    if (needle !== undefined) {
      // In the layout, a member of this object starts a line with exactly depth + 1 tabs (a
      // string cannot hold a raw newline), and a key without escapes is written as it is.
      const span = text.slice(this.start, this.end)
      if (!span.includes('\\')) {
        const at = span.lastIndexOf(needle)
        if (at < 0) return undefined
        const valueAt = at + needle.length
        if (span.charCodeAt(valueAt) === 0x22) {
          // A string without escapes (the span has no backslash): its text is its value.
          const close = span.indexOf('"', valueAt + 1)
          return { kind: 'string', value: span.slice(valueAt + 1, close), raw: span.slice(valueAt, close + 1) }
        }
        return new Parser(text, Number.POSITIVE_INFINITY, this.start + valueAt).readValue(this.depth + 1)
      }
    }
    const parser = new Parser(text, Number.POSITIVE_INFINITY, this.start + 1)
    let found = -1
    parser.skipWhitespace()
    // The span was checked when it was parsed: what follows can take its grammar for granted.
    while (text.charCodeAt(parser.pos) !== 0x7d) {
      const keyStart = parser.pos
      const escaped = parser.scanString()
      const matches = escaped
        ? (JSON.parse(text.slice(keyStart, parser.pos)) as string) === key
        : parser.pos - keyStart - 2 === key.length && text.startsWith(key, keyStart + 1)
      parser.skipWhitespace()
      parser.pos++ // ':'
      parser.skipWhitespace()
      if (matches) found = parser.pos
      parser.skipValue(this.depth + 1)
      parser.skipWhitespace()
      if (text.charCodeAt(parser.pos) === 0x2c) parser.pos++
      parser.skipWhitespace()
    }
    if (found < 0) return undefined
    parser.pos = found
    return parser.readValue(this.depth + 1)
  }
}

class SourceArray extends SourceSpan implements JsonArray {
  declare readonly kind: 'array'
  get items(): readonly JsonNode[] {
    return (this.build() as JsonArray).items
  }
}
Object.defineProperty(SourceObject.prototype, 'kind', { value: 'object' })

/**
 * A member read by readLaidOutMembers: a key without escapes and a laid-out flat object. One small
 * object per `auths` entry; its raw key and its value are made when asked for (most never are).
 */
class LaidOutMember implements JsonMember {
  readonly key: string
  private built: SourceObject | undefined

  constructor(
    private readonly text: string,
    private readonly keyQuote: number,
    private readonly keyClose: number,
    private readonly end: number,
    private readonly depth: number,
  ) {
    this.key = text.slice(keyQuote + 1, keyClose)
    this.built = undefined
  }

  get rawKey(): string {
    return this.text.slice(this.keyQuote, this.keyClose + 1)
  }

  get value(): JsonNode {
    this.built ??= new SourceObject(this.text, this.keyClose + 3, this.end, this.depth, this.depth)
    return this.built
  }
}
Object.defineProperty(SourceArray.prototype, 'kind', { value: 'array' })

/**
 * A member of an object at `depth` whose value is a flat object (see flatObjectInLayout), all in the
 * layout, with a key that has no escapes: one native step per `auths` entry.
 */
function laidOutMemberWithFlatObject(depth: number): RegExp {
  let pattern = laidOutMembers.get(depth)
  if (pattern === undefined) {
    pattern = new RegExp(`\\n${'\\t'.repeat(depth + 1)}"[^"\\\\\\u0000-\\u001f]*": ${flatObjectInLayout(depth + 1).source}`, 'y')
    laidOutMembers.set(depth, pattern)
  }
  return pattern
}

class Parser {
  constructor(
    readonly text: string,
    readonly lazyFromDepth: number,
    public pos: number,
  ) {}

  fail(reason: string, at = this.pos): never {
    let line = 1
    let lineStart = 0
    for (let i = 0; i < at && i < this.text.length; i++) {
      if (this.text.charCodeAt(i) === 10) {
        line++
        lineStart = i + 1
      }
    }
    throw new JsonSyntaxError(reason, line, at - lineStart + 1)
  }

  skipWhitespace(): void {
    const c = this.text.charCodeAt(this.pos)
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return
    whitespaceRun.lastIndex = this.pos
    whitespaceRun.test(this.text)
    this.pos = whitespaceRun.lastIndex
  }

  describe(at: number): string {
    if (at >= this.text.length) return 'unexpected end of input'
    const c = this.text.charCodeAt(at)
    if (c < 0x20) return `unexpected control character U+${c.toString(16).padStart(4, '0').toUpperCase()}`
    return `unexpected character ${JSON.stringify(this.text[at])}`
  }

  /** Checks the string at pos and moves past it; true when it holds an escape. */
  scanString(): boolean {
    const text = this.text
    const start = this.pos
    let escaped = false
    let i = start + 1
    for (;;) {
      plainRun.lastIndex = i
      plainRun.test(text)
      i = plainRun.lastIndex
      const c = text.charCodeAt(i)
      if (c === 0x22) {
        this.pos = i + 1
        return escaped
      }
      if (c === 0x5c) {
        const e = text.charCodeAt(i + 1)
        if (e === 0x75) {
          if (!(isHex(text.charCodeAt(i + 2)) && isHex(text.charCodeAt(i + 3)) && isHex(text.charCodeAt(i + 4)) && isHex(text.charCodeAt(i + 5)))) this.fail('invalid escape in a string', i)
          i += 6
        } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
          i += 2
        } else {
          this.fail('invalid escape in a string', i)
        }
        escaped = true
        continue
      }
      if (i >= text.length) this.fail('unterminated string', start)
      this.fail('unescaped control character in a string', i)
    }
  }

  readString(): JsonString {
    const start = this.pos
    const escaped = this.scanString()
    const raw = this.text.slice(start, this.pos)
    return { kind: 'string', value: escaped ? (JSON.parse(raw) as string) : this.text.slice(start + 1, this.pos - 1), raw }
  }

  /** A scalar at pos (string, literal or number), moved past; fails on anything else. */
  private scalarEnd(): void {
    const text = this.text
    const c = text.charCodeAt(this.pos)
    if (c === 0x22) {
      this.scanString()
      return
    }
    const literal = c === 0x74 ? 'true' : c === 0x66 ? 'false' : c === 0x6e ? 'null' : undefined
    if (literal !== undefined && text.startsWith(literal, this.pos)) {
      this.pos += literal.length
      return
    }
    numberToken.lastIndex = this.pos
    if (numberToken.test(text)) {
      this.pos = numberToken.lastIndex
      return
    }
    this.fail(this.describe(this.pos))
  }

  /** Moves past the value at pos, checking it as readValue would, without building it. */
  skipValue(depth: number): void {
    const c = this.text.charCodeAt(this.pos)
    if (c === 0x7b || c === 0x5b) this.skipContainer(depth)
    else this.scalarEnd()
  }

  readValue(depth: number): JsonNode {
    if (depth > maxJsonDepth) this.fail(`nesting deeper than ${maxJsonDepth} levels`)
    this.skipWhitespace()
    const text = this.text
    const c = text.charCodeAt(this.pos)
    if ((c === 0x7b || c === 0x5b) && depth >= this.lazyFromDepth) {
      const start = this.pos
      if (c === 0x7b && depth < maxJsonDepth) {
        const flat = flatObjectInLayout(depth)
        flat.lastIndex = start
        if (flat.test(text)) {
          this.pos = flat.lastIndex
          return new SourceObject(text, start, this.pos, depth, depth)
        }
      }
      const inLayout = this.skipContainer(depth)
      return new (c === 0x7b ? SourceObject : SourceArray)(text, start, this.pos, depth, inLayout ? depth : -1)
    }
    if (c === 0x7b) {
      this.pos++
      const members: JsonMember[] = []
      const membersStart = this.pos
      if (depth + 1 === this.lazyFromDepth && depth + 2 <= maxJsonDepth && this.readLaidOutMembers(depth, members)) {
        const object: JsonObject = { kind: 'object', members }
        laidOutObjects.set(object, { text, start: membersStart, end: this.pos, depth })
        return object
      }
      if (members.length === 0) {
        this.skipWhitespace()
        if (text.charCodeAt(this.pos) === 0x7d) {
          this.pos++
          return { kind: 'object', members }
        }
      }
      for (;;) {
        this.skipWhitespace()
        if (text.charCodeAt(this.pos) !== 0x22) this.fail(`${this.describe(this.pos)}; expected a quoted key`)
        const key = this.readString()
        this.skipWhitespace()
        if (text.charCodeAt(this.pos) !== 0x3a) this.fail(`${this.describe(this.pos)}; expected ':'`)
        this.pos++
        const value = this.readValue(depth + 1)
        members.push({ key: key.value, rawKey: key.raw, value })
        this.skipWhitespace()
        const next = text.charCodeAt(this.pos)
        if (next === 0x2c) {
          this.pos++
          continue
        }
        if (next === 0x7d) {
          this.pos++
          return { kind: 'object', members }
        }
        this.fail(`${this.describe(this.pos)}; expected ',' or '}'`)
      }
    }
    if (c === 0x5b) {
      this.pos++
      const items: JsonNode[] = []
      this.skipWhitespace()
      if (text.charCodeAt(this.pos) === 0x5d) {
        this.pos++
        return { kind: 'array', items }
      }
      for (;;) {
        items.push(this.readValue(depth + 1))
        this.skipWhitespace()
        const next = text.charCodeAt(this.pos)
        if (next === 0x2c) {
          this.pos++
          continue
        }
        if (next === 0x5d) {
          this.pos++
          return { kind: 'array', items }
        }
        this.fail(`${this.describe(this.pos)}; expected ',' or ']'`)
      }
    }
    if (c === 0x22) return this.readString()
    const literal = c === 0x74 ? 'true' : c === 0x66 ? 'false' : c === 0x6e ? 'null' : undefined
    if (literal !== undefined && text.startsWith(literal, this.pos)) {
      this.pos += literal.length
      return { kind: 'literal', raw: literal }
    }
    const start = this.pos
    this.scalarEnd()
    return { kind: 'number', raw: text.slice(start, this.pos) }
  }

  /**
   * Reads members of the object at `depth` (pos just after its `{` or a `,`) for as long as each is
   * laid out with a flat object as its value, leaving each value a lazy span. True when that reached
   * the object's end; false leaves pos before the first member it did not take, for readValue.
   */
  private readLaidOutMembers(depth: number, members: JsonMember[]): boolean {
    const text = this.text
    const pattern = laidOutMemberWithFlatObject(depth)
    const closing = `\n${'\t'.repeat(depth)}}`
    for (;;) {
      const start = this.pos
      pattern.lastIndex = start
      if (!pattern.test(text)) return false
      const end = pattern.lastIndex
      const next = text.charCodeAt(end)
      const closed = next !== 0x2c && text.startsWith(closing, end)
      if (next !== 0x2c && !closed) return false
      const keyQuote = start + depth + 2
      const keyClose = text.indexOf('"', keyQuote + 1)
      members.push(new LaidOutMember(text, keyQuote, keyClose, end, depth + 1))
      if (closed) {
        this.pos = end + closing.length
        return true
      }
      this.pos = end + 1
    }
  }

  /** Whether text[from, to) is a newline and then `tabs` tabs: the serialized layout's line break. */
  private isLineBreak(from: number, to: number, tabs: number): boolean {
    if (to - from !== tabs + 1 || this.text.charCodeAt(from) !== 0x0a) return false
    for (let i = from + 1; i < to; i++) if (this.text.charCodeAt(i) !== 0x09) return false
    return true
  }

  /**
   * Checks the object or array at pos exactly as readValue would (the same errors at the same
   * places) without building it, and moves past it. True when it is already in the layout that
   * serializeJson gives a value at `depth`.
   */
  skipContainer(depth: number): boolean {
    const text = this.text
    const object = text.charCodeAt(this.pos) === 0x7b
    const close = object ? 0x7d : 0x5d
    this.pos++
    let inLayout = true
    const opened = this.pos
    this.skipWhitespace()
    if (text.charCodeAt(this.pos) === close) {
      inLayout = this.pos === opened
      this.pos++
      return inLayout
    }
    // Where the whitespace before the next member or item starts (readValue has skipped the first).
    let before = opened
    for (;;) {
      if (object) {
        this.skipWhitespace()
        inLayout &&= this.isLineBreak(before, this.pos, depth + 1)
        if (text.charCodeAt(this.pos) !== 0x22) this.fail(`${this.describe(this.pos)}; expected a quoted key`)
        this.scanString()
        const afterKey = this.pos
        this.skipWhitespace()
        inLayout &&= this.pos === afterKey
        if (text.charCodeAt(this.pos) !== 0x3a) this.fail(`${this.describe(this.pos)}; expected ':'`)
        this.pos++
      }
      // The value, as readValue(depth + 1) would check it.
      if (depth + 1 > maxJsonDepth) this.fail(`nesting deeper than ${maxJsonDepth} levels`)
      const gap = object ? this.pos : before
      this.skipWhitespace()
      inLayout &&= object ? this.pos === gap + 1 && text.charCodeAt(gap) === 0x20 : this.isLineBreak(gap, this.pos, depth + 1)
      const v = text.charCodeAt(this.pos)
      if (v === 0x7b || v === 0x5b) inLayout = this.skipContainer(depth + 1) && inLayout
      else this.scalarEnd()
      const afterValue = this.pos
      this.skipWhitespace()
      const next = text.charCodeAt(this.pos)
      if (next === 0x2c) {
        inLayout &&= this.pos === afterValue
        this.pos++
        before = this.pos
        continue
      }
      if (next === close) {
        inLayout &&= this.isLineBreak(afterValue, this.pos, depth)
        this.pos++
        return inLayout
      }
      this.fail(`${this.describe(this.pos)}; expected ',' or ${object ? "'}'" : "']'"}`)
    }
  }
}

/** Docker's layout: json.MarshalIndent with a tab, plus a trailing newline. */
export function serializeJson(node: JsonNode): string {
  // String concatenation: V8 builds ropes, cheaper here than collecting parts for join().
  const write = (n: JsonNode, indent: string): string => {
    if (n instanceof SourceSpan) {
      const source = n.sourceInLayout(indent.length)
      if (source !== undefined) return source
    }
    switch (n.kind) {
      case 'object': {
        const source = objectFromSource(n, indent.length, write)
        if (source !== undefined) return source
        if (n.members.length === 0) return '{}'
        const inner = `${indent}\t`
        let out = '{\n'
        for (let i = 0; i < n.members.length; i++) {
          const m = n.members[i]!
          out += `${inner}${m.rawKey}: ${write(m.value, inner)}${i === n.members.length - 1 ? '\n' : ',\n'}`
        }
        return `${out}${indent}}`
      }
      case 'array': {
        if (n.items.length === 0) return '[]'
        const inner = `${indent}\t`
        let out = '[\n'
        for (let i = 0; i < n.items.length; i++) out += `${inner}${write(n.items[i]!, inner)}${i === n.items.length - 1 ? '\n' : ',\n'}`
        return `${out}${indent}]`
      }
      case 'string':
      case 'number':
      case 'literal':
        return n.raw
    }
  }
  return `${write(node, '')}\n`
}

export const jsonString = (value: string): JsonString => ({ kind: 'string', value, raw: JSON.stringify(value) })

export const jsonObject = (entries: ReadonlyArray<readonly [string, JsonNode]>): JsonObject => ({
  kind: 'object',
  members: entries.map(([key, value]) => ({ key, rawKey: JSON.stringify(key), value })),
})

/** The last member with this key wins, as in Go's encoding/json and every reader of config.json. */
export function getMember(node: JsonObject, key: string): JsonNode | undefined {
  if (node instanceof SourceObject) return node.member(key)
  for (let i = node.members.length - 1; i >= 0; i--) {
    const m = node.members[i]!
    if (m.key === key) return m.value
  }
  return undefined
}

/**
 * For a check over every member of `parent` at once (every `auths` entry): the source of its members,
 * and how a `key` member's line starts there. Only when the parse read each member as a laid-out flat
 * object (see readLaidOutMembers) and no backslash occurs, so that such a member cannot be written any
 * other way; otherwise undefined: look at each member.
 */
export function memberLinesOfMembers(parent: JsonObject, key: string): { readonly region: string; readonly lineStart: string } | undefined {
  const at = laidOutObjects.get(parent)
  const lineStart = at === undefined ? undefined : memberLineStart(at.depth + 1, key)
  if (at === undefined || lineStart === undefined) return undefined
  const region = at.text.slice(at.start, at.end)
  return region.includes('\\') ? undefined : { region, lineStart }
}

/** Keys that occur more than once among an object's members (one Set operation per key: `auths` can hold thousands). */
export function duplicateKeys(node: JsonObject): string[] {
  const seen = new Set<string>()
  const dups = new Set<string>()
  for (const m of node.members) {
    const before = seen.size
    if (seen.add(m.key).size === before) dups.add(m.key)
  }
  return [...dups]
}
