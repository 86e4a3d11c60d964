// config.json as data: the rules for reading it, merging our entries into it, and what to warn
// about. Pure functions; the filesystem side is in config-file.ts.

import { CliError, ExitCode } from '../errors.js'
import {
  type JsonMember,
  type JsonNode,
  type JsonObject,
  JsonSyntaxError,
  duplicateKeys,
  getMember,
  jsonObject,
  jsonString,
  parseJson,
  serializeJson,
} from './json-document.js'
import { isCompetingKey } from './registry-keys.js'

/** Larger files are refused (78) rather than read into memory at boot. */
export const maxConfigBytes = 32 * 1024 * 1024

export interface ConfigDocument {
  /** The root object; an empty object for a missing, empty or whitespace-only file. */
  readonly root: JsonObject
}

export interface AuthEntry {
  readonly key: string
  /** Secret. */
  readonly auth: string
}

export interface MergeChanges {
  readonly added: string[]
  readonly updated: string[]
  /** Competing spellings of our keys that held our own older entries, removed. */
  readonly removed: string[]
}

export interface MergePlan {
  readonly root: JsonObject
  readonly changes: MergeChanges
  readonly warnings: string[]
}

const unusable = (path: string, problem: string, fix: string): CliError =>
  new CliError(ExitCode.configUnusable, `${path}: ${problem}; nothing was changed`, { hint: fix })

/** "object", "array", "string", "number", or the literal itself ("null", "true", "false"). */
const kindOf = (node: JsonNode): string => (node.kind === 'literal' ? node.raw : node.kind)

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Parses the bytes of an existing config file, refusing (exit 78) what no reader would accept. */
export function parseConfig(bytes: Uint8Array, path: string): ConfigDocument {
  const moveAside = `repair it or move it aside (mv ${path} ${path}.broken) and run again`
  if (bytes.length > maxConfigBytes) {
    throw unusable(path, `is larger than ${maxConfigBytes / 1024 / 1024} MiB`, moveAside)
  }
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    throw unusable(path, 'starts with a UTF-8 byte-order mark, which Docker and skopeo reject', 'remove the first 3 bytes of the file')
  }
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    throw unusable(path, 'is not valid UTF-8', moveAside)
  }
  if (text.trim() === '') return { root: jsonObject([]) }
  let root: JsonNode
  try {
    root = parseJson(text)
  } catch (error) {
    if (error instanceof JsonSyntaxError) throw unusable(path, `is not valid JSON (${error.message})`, moveAside)
    throw error
  }
  if (root.kind !== 'object') throw unusable(path, `has a JSON ${kindOf(root)} at the top, not an object`, moveAside)
  const auths = getMember(root, 'auths')
  if (auths !== undefined && auths.kind !== 'object' && !(auths.kind === 'literal' && auths.raw === 'null')) {
    throw unusable(path, `has "auths" as a JSON ${kindOf(auths)}, not an object`, moveAside)
  }
  return { root }
}

/**
 * Merges our entries into the document; changes nothing else. `username` tells our own entries from
 * others': a competing spelling of our key is removed only when it is ours (an older entry of this
 * tool), since anything else is someone's login that we have no business deleting.
 */
export function planMerge(doc: ConfigDocument, entries: readonly AuthEntry[], username: string): MergePlan {
  const changes: MergeChanges = { added: [], updated: [], removed: [] }
  const warnings: string[] = []
  const warn = (text: string): void => {
    if (!warnings.includes(text)) warnings.push(text)
  }
  const existing = getMember(doc.root, 'auths')
  let members: readonly JsonMember[] = existing?.kind === 'object' ? existing.members : []

  for (const { key, auth } of entries) {
    if (members.some((m) => isCompetingKey(m.key, key))) {
      members = members.filter((m) => {
        if (!isCompetingKey(m.key, key)) return true
        if (!isOwnEntry(m.value, username)) {
          const { message, fix } = otherSpelling(m.key, key, m.value, 'run this tool again')
          warn(`${message}; kept: ${fix}`)
          return true
        }
        if (!changes.removed.includes(m.key)) changes.removed.push(m.key)
        return false
      })
    }

    let first = -1
    let count = 0
    for (let i = 0; i < members.length; i++) {
      if (members[i]!.key !== key) continue
      if (first < 0) first = i
      count++
    }
    if (count === 1 && holdsOnly(members[first]!.value, auth)) continue
    const entry: JsonMember = { key, rawKey: JSON.stringify(key), value: jsonObject([['auth', jsonString(auth)]]) }
    if (count === 0) {
      members = [...members, entry]
      changes.added.push(key)
    } else {
      // Our key is ours to write, but replacing someone's login there must not pass as a plain "wrote".
      for (const m of members) {
        if (m.key === key && !isOwnEntry(m.value, username)) warn(`replaced auths[${JSON.stringify(key)}], which held a login this tool did not write (${credentialOwner(m.value)})`)
      }
      // Replace in place (the first occurrence) and drop duplicates of our own key.
      const next = members.filter((m, i) => i === first || m.key !== key)
      next[first] = entry
      members = next
      changes.updated.push(key)
    }
  }

  const changed = changes.added.length + changes.updated.length + changes.removed.length > 0
  const root = changed ? withMember(doc.root, 'auths', { kind: 'object', members }) : doc.root
  return { root, changes, warnings: [...warnings, ...configWarnings(root, entries.map((e) => e.key))] }
}

/** Whether an `auths` entry is this tool's: its `auth` carries our user name (with any PKCS7). */
export const isOwnEntry = (value: JsonNode, username: string): boolean => authUser(value) === username

/** Whose login an entry holds, for messages: never a secret, only the user name or the kind. */
export function credentialOwner(value: JsonNode): string {
  const token = value.kind === 'object' ? getMember(value, 'identitytoken') : undefined
  if (token?.kind === 'string' && token.value !== '') return 'an identity token'
  const user = authUser(value)
  return user === undefined ? 'no usable auth' : `user ${JSON.stringify(user)}`
}

/**
 * Another tool's login under a competing spelling of our key, which we keep. `docker logout` of any
 * spelling erases every spelling of the host, ours too, so its fix ends with `rerun`.
 */
export function otherSpelling(existing: string, key: string, value: JsonNode, rerun: string): { message: string; fix: string } {
  return {
    message: `auths[${JSON.stringify(existing)}] is another spelling of ${key} with a login this tool did not write (${credentialOwner(value)}): Docker and skopeo use the entry for ${key}, other readers may pick either`,
    fix: `if it is stale, docker logout ${existing} (it removes every spelling of ${key}, this tool's too), then ${rerun}`,
  }
}

/** Whether an entry is exactly `{"auth": <auth>}`, as this tool writes it. */
function holdsOnly(value: JsonNode, auth: string): boolean {
  if (value.kind !== 'object') return false
  const fields = value.members
  const field = fields[0]
  return fields.length === 1 && field !== undefined && field.key === 'auth' && field.value.kind === 'string' && field.value.value === auth
}

/** The user name inside an entry's `auth`, when it decodes; undefined otherwise. */
export function authUser(entry: JsonNode): string | undefined {
  if (entry.kind !== 'object') return undefined
  const auth = getMember(entry, 'auth')
  if (auth?.kind !== 'string' || dockerAuthProblem(auth.value) !== undefined || auth.value === '') return undefined
  const decoded = Buffer.from(auth.value.replace(/[\r\n]/g, ''), 'base64').toString('utf8')
  return decoded.slice(0, decoded.indexOf(':'))
}

/**
 * Removes this tool's entries for `keys` (and competing spellings of them): those whose `auth`
 * carries `username`. Entries someone else wrote under the same key are left alone, with a warning.
 */
export function planRemove(doc: ConfigDocument, keys: readonly string[], username: string): MergePlan {
  const changes: MergeChanges = { added: [], updated: [], removed: [] }
  const warnings: string[] = []
  const auths = getMember(doc.root, 'auths')
  if (auths?.kind !== 'object') return { root: doc.root, changes, warnings }
  const members = auths.members.filter((m) => {
    if (!keys.some((key) => m.key === key || isCompetingKey(m.key, key))) return true
    if (isOwnEntry(m.value, username)) {
      if (!changes.removed.includes(m.key)) changes.removed.push(m.key)
      return false
    }
    warnings.push(`auths[${JSON.stringify(m.key)}] was not written by this tool (${credentialOwner(m.value)}); left alone`)
    return true
  })
  const root = changes.removed.length > 0 ? withMember(doc.root, 'auths', { kind: 'object', members }) : doc.root
  return { root, changes, warnings }
}

/** Sets `key` in an object: replaces the last occurrence in place, or appends. */
function withMember(obj: JsonObject, key: string, value: JsonNode): JsonObject {
  const index = obj.members.map((m) => m.key).lastIndexOf(key)
  if (index < 0) return { kind: 'object', members: [...obj.members, { key, rawKey: JSON.stringify(key), value }] }
  return { kind: 'object', members: obj.members.map((m, i) => (i === index ? { key: m.key, rawKey: m.rawKey, value } : m)) }
}

/** The reason Docker's decodeAuth would reject this `auth` value, or undefined if it is fine. */
export function dockerAuthProblem(auth: string): string | undefined {
  if (auth === '') return undefined
  const compact = auth.includes('\n') || auth.includes('\r') ? auth.replace(/[\r\n]/g, '') : auth
  if (compact.length % 4 !== 0 || !base64Alphabet.test(compact)) return 'is not padded standard base64'
  const decoded = Buffer.from(compact, 'base64')
  const colon = decoded.indexOf(0x3a)
  if (colon < 0) return 'has no colon between user and password'
  if (colon === 0) return 'has an empty user name'
  return undefined
}

const base64Alphabet = /^[A-Za-z0-9+/]*={0,2}$/

/** Warnings about the document as it will be written: shadowing, entries Docker cannot load, duplicates. */
export function configWarnings(root: JsonObject, ourKeys: readonly string[]): string[] {
  const warnings: string[] = []
  const credsStore = getMember(root, 'credsStore')
  if (credsStore?.kind === 'string' && credsStore.value !== '') {
    warnings.push(
      `"credsStore": ${credsStore.raw} is set, so Docker asks docker-credential-${credsStore.value} and ignores the entries written here; remove "credsStore" (skopeo and kubelet still use the entries)`,
    )
  }
  const credHelpers = getMember(root, 'credHelpers')
  if (credHelpers?.kind === 'object') {
    for (const key of ourKeys) {
      if (getMember(credHelpers, key) !== undefined) {
        warnings.push(`"credHelpers" names ${key}, so Docker and skopeo ask that helper and ignore the entry written here; remove credHelpers["${key}"]`)
      }
    }
  }
  for (const dup of duplicateKeys(root)) warnings.push(`the key ${JSON.stringify(dup)} appears more than once at the top level; readers use the last one`)
  const auths = getMember(root, 'auths')
  if (auths?.kind === 'object') {
    for (const dup of duplicateKeys(auths)) warnings.push(`auths has the key ${JSON.stringify(dup)} more than once; readers use the last one`)
    for (const m of auths.members) {
      if (ourKeys.includes(m.key)) continue
      const problem = entryProblem(m.value)
      if (problem !== undefined) {
        warnings.push(`auths[${JSON.stringify(m.key)}] ${problem}: Docker will fail to load this file and discard all of it on its next save; fix or remove that entry`)
      }
    }
  }
  return warnings
}

/** Why Docker could not load this `auths` entry, or undefined when it can. */
export function entryProblem(value: JsonNode): string | undefined {
  if (value.kind !== 'object') return `is a JSON ${kindOf(value)}, not an object`
  const auth = getMember(value, 'auth')
  if (auth === undefined || (auth.kind === 'literal' && auth.raw === 'null')) return undefined
  if (auth.kind !== 'string') return `has an "auth" that is not a string`
  const problem = dockerAuthProblem(auth.value)
  return problem === undefined ? undefined : `has an "auth" that ${problem}`
}

const secretFields = new Set(['auth', 'password', 'identitytoken', 'registrytoken'])

/** A copy with every credential value in `auths` replaced, for --dry-run output. */
export function redact(root: JsonObject): JsonObject {
  const auths = getMember(root, 'auths')
  if (auths?.kind !== 'object') return root
  const redacted: JsonObject = {
    kind: 'object',
    members: auths.members.map((entry) =>
      entry.value.kind !== 'object'
        ? entry
        : {
            key: entry.key,
            rawKey: entry.rawKey,
            value: {
              kind: 'object',
              members: entry.value.members.map((field) =>
                secretFields.has(field.key.toLowerCase()) && field.value.kind === 'string' && field.value.value !== ''
                  ? { key: field.key, rawKey: field.rawKey, value: jsonString('<redacted>') }
                  : field,
              ),
            },
          },
    ),
  }
  return withMember(root, 'auths', redacted)
}

export const renderConfig = (root: JsonObject): string => serializeJson(root)
