// systemd's reading of an EnvironmentFile=, byte for byte: which variables it sets, which lines it
// skips, and when it ignores the whole file. The settings file is read only through this.

/** One variable as systemd sets it: the value after quoting and escapes, and the line it was set on. */
export interface EnvironmentEntry {
  readonly name: string
  readonly value: string
  readonly line: number
}

/** A line systemd skips without failing the file (no `=`, or not a variable name such as `export X`). */
export interface IgnoredLine {
  readonly line: number
  readonly text: string
  readonly reason: string
}

export interface ParsedEnvironmentFile {
  /** Each variable once, where it was first set, with the value and line of its last setting. */
  readonly entries: readonly EnvironmentEntry[]
  readonly ignored: readonly IgnoredLine[]
  /** Why systemd would not load the file at all, or why its reading depends on systemd's version. */
  readonly unusable: { readonly line: number; readonly reason: string } | undefined
}

type State =
  | 'preKey'
  | 'key'
  | 'preValue'
  | 'value'
  | 'valueEscape'
  | 'singleQuote'
  | 'doubleQuote'
  | 'doubleQuoteEscape'
  | 'comment'
  | 'commentEscape'

// systemd's character classes (string-util.h): '\r' is both whitespace and a line end.
const isWhitespace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
const isNewline = (c: number): boolean => c === 0x0a || c === 0x0d
const isComment = (c: number): boolean => c === 0x23 || c === 0x3b // '#' ';'
const needsEscape = (c: number): boolean => c === 0x22 || c === 0x5c || c === 0x60 || c === 0x24 // " \ ` $
const backslash = 0x5c

interface Raw {
  readonly key: Uint8Array
  readonly value: Uint8Array
  readonly line: number
}

/**
 * systemd's parse_env_file_internal() (src/basic/env-file.c), state for state, over bytes.
 * `legacyComments`: before v254 a comment ending in a backslash also swallows the next line.
 */
function scan(
  bytes: Uint8Array,
  legacyComments: boolean,
): { assignments: Raw[]; keyOnly: Array<{ key: Uint8Array; line: number }>; continuedComments: number[] } {
  const assignments: Raw[] = []
  const keyOnly: Array<{ key: Uint8Array; line: number }> = []
  const continuedComments: number[] = []
  let key: number[] = []
  let value: number[] = []
  let lastKeyWhitespace = -1
  let lastValueWhitespace = -1
  let state: State = 'preKey'
  let line = 1 // the physical line (counted on '\n'), for messages; systemd's own count differs
  let keyLine = 1
  const push = (trimValue: boolean): void => {
    const k = lastKeyWhitespace >= 0 ? key.slice(0, lastKeyWhitespace) : key
    const v = trimValue && lastValueWhitespace >= 0 ? value.slice(0, lastValueWhitespace) : value
    assignments.push({ key: Uint8Array.from(k), value: Uint8Array.from(v), line: keyLine })
    key = []
    value = []
  }
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!
    switch (state) {
      case 'preKey':
        if (isComment(c)) state = 'comment'
        else if (!isWhitespace(c)) {
          state = 'key'
          lastKeyWhitespace = -1
          keyLine = line
          key.push(c)
        }
        break
      case 'key':
        if (isNewline(c)) {
          state = 'preKey'
          keyOnly.push({ key: Uint8Array.from(key), line: keyLine })
          key = []
        } else if (c === 0x3d) {
          state = 'preValue'
          lastValueWhitespace = -1
        } else {
          if (!isWhitespace(c)) lastKeyWhitespace = -1
          else if (lastKeyWhitespace < 0) lastKeyWhitespace = key.length
          key.push(c)
        }
        break
      case 'preValue':
        if (isNewline(c)) {
          state = 'preKey'
          push(false)
        } else if (c === 0x27) state = 'singleQuote'
        else if (c === 0x22) state = 'doubleQuote'
        else if (c === backslash) state = 'valueEscape'
        else if (!isWhitespace(c)) {
          state = 'value'
          value.push(c)
        }
        break
      case 'value':
        if (isNewline(c)) {
          state = 'preKey'
          push(true)
        } else if (c === backslash) {
          state = 'valueEscape'
          lastValueWhitespace = -1
        } else {
          if (!isWhitespace(c)) lastValueWhitespace = -1
          else if (lastValueWhitespace < 0) lastValueWhitespace = value.length
          value.push(c)
        }
        break
      case 'valueEscape':
        state = 'value'
        // A backslash-newline is a continuation: both vanish.
        if (!isNewline(c)) value.push(c)
        break
      case 'singleQuote':
        if (c === 0x27) state = 'preValue'
        else value.push(c)
        break
      case 'doubleQuote':
        if (c === 0x22) state = 'preValue'
        else if (c === backslash) state = 'doubleQuoteEscape'
        else value.push(c)
        break
      case 'doubleQuoteEscape':
        state = 'doubleQuote'
        // Only \" \\ \` \$ lose their backslash, and only '\n' (not '\r') continues the line.
        if (needsEscape(c)) value.push(c)
        else if (c !== 0x0a) value.push(backslash, c)
        break
      case 'comment':
        if (c === backslash) state = 'commentEscape'
        else if (isNewline(c)) state = 'preKey'
        break
      case 'commentEscape':
        if (isNewline(c) && !legacyComments) {
          state = 'preKey'
          continuedComments.push(line)
        } else state = 'comment'
        break
    }
    if (c === 0x0a) line++
  }
  // A last line without a newline counts, unless it is a bare key or a comment.
  if (state === 'value') push(true)
  else if (
    state === 'preValue' ||
    state === 'valueEscape' ||
    state === 'singleQuote' ||
    state === 'doubleQuote' ||
    state === 'doubleQuoteEscape'
  )
    push(false)
  else if (state === 'key') keyOnly.push({ key: Uint8Array.from(key), line: keyLine })
  return { assignments, keyOnly, continuedComments }
}

// ignoreBOM: a BOM is a character to systemd (it makes the first name invalid).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** UTF-8 as systemd's utf8_is_valid() takes it: also no noncharacters (U+FDD0..U+FDEF, U+xFFFE/F). */
function systemdUtf8(bytes: Uint8Array): string | undefined {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return undefined
  }
  for (const ch of text) {
    const cp = ch.codePointAt(0)!
    if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) return undefined
  }
  return text
}

/** The line number of the byte at `offset`. */
function lineAt(bytes: Uint8Array, offset: number): number {
  let line = 1
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++
  return line
}

/** env_name_is_valid(): what systemd keeps when it cleans the environment it read. */
const validName = (name: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)

/**
 * The variables systemd sets from an EnvironmentFile= with these bytes (load_env_file(), then the
 * invalid names dropped as exec_context_load_environment() does): one rule for every mode.
 */
export function parseEnvironmentFile(input: Uint8Array | string): ParsedEnvironmentFile {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input
  // read_full_file() refuses a file with a NUL byte (EBADMSG): systemd ignores all of it.
  const nul = bytes.indexOf(0)
  if (nul >= 0)
    return { entries: [], ignored: [], unusable: { line: lineAt(bytes, nul), reason: 'a NUL byte, so systemd ignores the whole file' } }
  const current = scan(bytes, false)
  const entries: EnvironmentEntry[] = []
  const ignored: IgnoredLine[] = []
  const loose = (b: Uint8Array): string => Buffer.from(b).toString('utf8')
  for (const { key, line } of current.keyOnly) ignored.push({ line, text: loose(key), reason: "it has no '='" })
  for (const { key, value, line } of current.assignments) {
    const name = systemdUtf8(key)
    const text = systemdUtf8(value)
    // systemd refuses the whole file then; with EnvironmentFile=- the unit runs without it.
    if (name === undefined)
      return { entries: [], ignored: [], unusable: { line, reason: 'invalid UTF-8 in a variable name, so systemd ignores the whole file' } }
    if (text === undefined)
      return {
        entries: [],
        ignored: [],
        unusable: { line, reason: `invalid UTF-8 in the value of ${name}, so systemd ignores the whole file` },
      }
    if (!validName(name)) {
      ignored.push({ line, text: name, reason: 'it is not a variable name' })
      continue
    }
    const at = entries.findIndex((e) => e.name === name)
    if (at >= 0) entries[at] = { name, value: text, line }
    else entries.push({ name, value: text, line })
  }
  ignored.sort((a, b) => a.line - b.line)
  if (current.continuedComments.length > 0) {
    // systemd 254 changed this rule; where the two readings differ, the file means different things.
    const legacy = scan(bytes, true).assignments
    const same = legacy.length === current.assignments.length && legacy.every((a, i) => a.line === current.assignments[i]!.line)
    if (!same) {
      return {
        entries,
        ignored,
        unusable: {
          line: current.continuedComments[0]!,
          reason: "a comment that ends in '\\' hides the next line from systemd before version 254, not from later ones",
        },
      }
    }
  }
  return { entries, ignored, unusable: undefined }
}
