// An order-preserving JSON tree. config.json belongs to other tools, so a value we do not own must
// come back exactly: member order, duplicate keys, `__proto__` keys, integers beyond 2^53 and string
// escapes all survive because scalars keep their source text. JSON.parse would lose all of those.

export type JsonNode = JsonObject | JsonArray | JsonScalar

/**
 * A string, number, true, false or null, as its JSON source text: `"a\u0062"`, `1e400`, `null`.
 * Keeping the text is what makes it come back exactly; the string inside is read with stringValue.
 */
export type JsonScalar = string

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

const plainRun = /[^"\\\u0000-\u001f]*/y
const escapeToken = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y
const numberToken = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y

/**
 * A copy with no spare room. An array grown by push keeps room for more, several times what a
 * two-member object needs: across the thousands of entries of a large config.json, a fifth of the
 * tree's memory, which the garbage collector would copy for nothing.
 */
const exactSize = <T>(list: T[]): T[] => list.slice()

/** Parses strict RFC 8259 JSON text into a tree. Throws JsonSyntaxError. */
export function parseJson(text: string): JsonNode {
  let pos = 0

  const fail = (reason: string, at = pos): never => {
    let line = 1
    let lineStart = 0
    for (let i = 0; i < at && i < text.length; i++) {
      if (text.charCodeAt(i) === 10) {
        line++
        lineStart = i + 1
      }
    }
    throw new JsonSyntaxError(reason, line, at - lineStart + 1)
  }

  const skipWhitespace = (): void => {
    for (;;) {
      const c = text.charCodeAt(pos)
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++
      else return
    }
  }

  const describe = (at: number): string => {
    if (at >= text.length) return 'unexpected end of input'
    const c = text.charCodeAt(at)
    if (c < 0x20) return `unexpected control character U+${c.toString(16).padStart(4, '0').toUpperCase()}`
    return `unexpected character ${JSON.stringify(text[at])}`
  }

  /**
   * Reads the string at pos and returns its source text, quotes included. A run of plain characters
   * at a time, then one escape: a single expression for the whole string would keep a backtracking
   * entry per character and overflow the stack on strings of a few megabytes.
   */
  const readRawString = (): string => {
    const start = pos
    pos++
    for (;;) {
      plainRun.lastIndex = pos
      plainRun.test(text)
      pos = plainRun.lastIndex
      const c = text.charCodeAt(pos)
      if (c === 0x22) {
        pos++
        return text.slice(start, pos)
      }
      if (c === 0x5c) {
        escapeToken.lastIndex = pos
        if (!escapeToken.test(text)) fail('invalid escape in a string')
        pos = escapeToken.lastIndex
      } else if (pos >= text.length) {
        fail('unterminated string', start)
      } else {
        fail('unescaped control character in a string')
      }
    }
  }
  const readValue = (depth: number): JsonNode => {
    skipWhitespace()
    const c = text[pos]
    // Levels are objects and arrays; a scalar inside the deepest one is no level of its own.
    if ((c === '{' || c === '[') && depth >= maxJsonDepth) fail(`nesting deeper than ${maxJsonDepth} levels`)
    if (c === '{') {
      pos++
      const members: JsonMember[] = []
      skipWhitespace()
      if (text[pos] === '}') {
        pos++
        return { kind: 'object', members }
      }
      for (;;) {
        skipWhitespace()
        if (text[pos] !== '"') fail(`${describe(pos)}; expected a quoted key`)
        const rawKey = readRawString()
        skipWhitespace()
        if (text[pos] !== ':') fail(`${describe(pos)}; expected ':'`)
        pos++
        const value = readValue(depth + 1)
        members.push({ key: unquote(rawKey), rawKey, value })
        skipWhitespace()
        if (text[pos] === ',') {
          pos++
          continue
        }
        if (text[pos] === '}') {
          pos++
          return { kind: 'object', members: exactSize(members) }
        }
        fail(`${describe(pos)}; expected ',' or '}'`)
      }
    }
    if (c === '[') {
      pos++
      const items: JsonNode[] = []
      skipWhitespace()
      if (text[pos] === ']') {
        pos++
        return { kind: 'array', items }
      }
      for (;;) {
        items.push(readValue(depth + 1))
        skipWhitespace()
        if (text[pos] === ',') {
          pos++
          continue
        }
        if (text[pos] === ']') {
          pos++
          return { kind: 'array', items: exactSize(items) }
        }
        fail(`${describe(pos)}; expected ',' or ']'`)
      }
    }
    if (c === '"') return readRawString()
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, pos)) {
        pos += literal.length
        return literal
      }
    }
    const start = pos
    numberToken.lastIndex = pos
    if (!numberToken.test(text)) return fail(describe(pos))
    pos = numberToken.lastIndex
    return text.slice(start, pos)
  }

  const root = readValue(0)
  skipWhitespace()
  if (pos < text.length) fail(`${describe(pos)} after the end of the document`)
  return root
}

/** Docker's layout: json.MarshalIndent with a tab, plus a trailing newline. */
export function serializeJson(node: JsonNode): string {
  // String concatenation: V8 builds ropes, cheaper here than collecting parts for join().
  const write = (n: JsonNode, indent: string): string => {
    if (typeof n === 'string') return n
    switch (n.kind) {
      case 'object': {
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
    }
  }
  return `${write(node, '')}\n`
}

/** The string a JSON string literal (quotes included, valid) stands for. */
const unquote = (raw: string): string => (raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1))

/** The string inside a JSON string; undefined for any other value (null included). */
export const stringValue = (node: JsonNode | undefined): string | undefined =>
  typeof node === 'string' && node.startsWith('"') ? unquote(node) : undefined

/** The node if it is an object, else undefined. */
export const asObject = (node: JsonNode | undefined): JsonObject | undefined =>
  typeof node === 'object' && node.kind === 'object' ? node : undefined

/** What a value is, for messages: "object", "array", "string", "number", "true", "false" or "null". */
export function kindOf(node: JsonNode): string {
  if (typeof node === 'object') return node.kind
  if (node.startsWith('"')) return 'string'
  return node === 'true' || node === 'false' || node === 'null' ? node : 'number'
}

export const jsonString = (value: string): JsonScalar => JSON.stringify(value)

export const jsonObject = (entries: ReadonlyArray<readonly [string, JsonNode]>): JsonObject => ({
  kind: 'object',
  members: entries.map(([key, value]) => ({ key, rawKey: JSON.stringify(key), value })),
})

/** The last member with this key wins, as in Go's encoding/json and every reader of config.json. */
export function getMember(node: JsonObject, key: string): JsonNode | undefined {
  for (let i = node.members.length - 1; i >= 0; i--) {
    const m = node.members[i]!
    if (m.key === key) return m.value
  }
  return undefined
}

/** Keys that occur more than once among an object's members. */
export function duplicateKeys(node: JsonObject): string[] {
  const seen = new Set<string>()
  const dups = new Set<string>()
  for (const m of node.members) {
    if (seen.has(m.key)) dups.add(m.key)
    seen.add(m.key)
  }
  return [...dups]
}
