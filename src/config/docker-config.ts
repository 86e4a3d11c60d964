// config.json as data: the rules for reading it, merging our entries into it, and what to warn
// about. Pure functions; the filesystem side is in config-file.ts.

import { CliError, ExitCode, clipped, shown } from '../errors.js'
import {
  type JsonMember,
  type JsonNode,
  type JsonObject,
  JsonSyntaxError,
  asObject,
  getMember,
  jsonObject,
  jsonString,
  kindOf,
  parseJson,
  serializeJson,
  stringValue,
} from './json-document.js'
import { asWarning, credentialOwner, diagnose, foldKey, isOwnEntry, ourHelper } from './diagnostics.js'
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

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The top-level keys that decide which credential a client uses. */
const credentialFields = ['auths', 'credHelpers', 'credsStore'] as const
/** Parses the bytes of an existing config file, refusing (exit 78) what no reader would accept or what readers disagree on. */
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
    if (error instanceof JsonSyntaxError) throw unusable(path, error.reason.startsWith('nesting') ? `has ${error.message}` : `is not valid JSON (${error.message})`, moveAside)
    throw error
  }
  if (typeof root !== 'object' || root.kind !== 'object') throw unusable(path, `has a JSON ${kindOf(root)} at the top, not an object`, moveAside)
  // Go's decoder, which Docker, containers/image and kubelet read this file with, matches a key in
  // any case and merges repeated objects: an "Auths", or a second "auths", changes what they read in
  // ways a merge here could not keep right. Refused with the fix rather than guessed at.
  for (const m of root.members) {
    const folded = foldKey(m.key)
    const field = credentialFields.find((f) => folded === foldKey(f))
    if (field !== undefined && m.key !== field) {
      throw unusable(path, `has the key ${shown(m.key)}, which Docker reads as "${field}"`, `rename it to "${field}"${field === 'credsStore' ? '' : ` (merged with any "${field}" already there)`} and run again`)
    }
  }
  if (root.members.filter((m) => m.key === 'auths').length > 1) throw unusable(path, 'has "auths" more than once (Docker merges them)', 'merge them into one "auths" and run again')
  const auths = getMember(root, 'auths')
  if (auths !== undefined && asObject(auths) === undefined && auths !== 'null') {
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
  let members: readonly JsonMember[] = asObject(existing)?.members ?? []

  for (const { key, auth } of entries) {
    if (members.some((m) => isCompetingKey(m.key, key))) {
      members = members.filter((m) => {
        if (!isCompetingKey(m.key, key)) return true
        // Someone's login under another spelling is kept (diagnose warns about it).
        if (!isOwnEntry(m.value, username)) return true
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
  return { root, changes, warnings: [...warnings, ...diagnose(root, entries.map((e) => e.key), username, 'run this tool again').map(asWarning)] }
}

/** Whether an entry is exactly `{"auth": <auth>}`, as this tool writes it. */
function holdsOnly(value: JsonNode, auth: string): boolean {
  const fields = asObject(value)?.members ?? []
  const field = fields[0]
  return fields.length === 1 && field !== undefined && field.key === 'auth' && stringValue(field.value) === auth
}

/**
 * Removes this tool's entries for `keys` (and competing spellings of them): those whose `auth`
 * carries `username`. Entries someone else wrote under the same key are left alone, with a warning.
 */
export function planRemove(doc: ConfigDocument, keys: readonly string[], username: string): MergePlan {
  const changes: MergeChanges = { added: [], updated: [], removed: [] }
  const warnings: string[] = []
  let root = doc.root
  // Our credential-helper mapping goes too; another helper's entry for the same host is not ours.
  const helpers = credHelpersOf(doc.root)
  if (helpers !== undefined) {
    const kept = helpers.members.filter((m) => {
      if (!keys.includes(m.key) || stringValue(m.value) !== helperName) return true
      changes.removed.push(`credHelpers[${JSON.stringify(m.key)}]`)
      return false
    })
    if (kept.length !== helpers.members.length) root = kept.length === 0 ? withoutMember(root, 'credHelpers') : withMember(root, 'credHelpers', { kind: 'object', members: kept })
  }
  const auths = asObject(getMember(root, 'auths'))
  if (auths === undefined) return { root, changes, warnings }
  const before = changes.removed.length
  const members = auths.members.filter((m) => {
    if (!keys.some((key) => m.key === key || isCompetingKey(m.key, key))) return true
    if (isOwnEntry(m.value, username)) {
      if (!changes.removed.includes(m.key)) changes.removed.push(m.key)
      return false
    }
    warnings.push(`auths[${shown(m.key)}] was not written by this tool (${credentialOwner(m.value)}); left alone`)
    return true
  })
  if (changes.removed.length > before) root = withMember(root, 'auths', { kind: 'object', members })
  return { root, changes, warnings }
}

/** Drops every occurrence of `key` from an object: an empty credHelpers says nothing to any reader. */
function withoutMember(obj: JsonObject, key: string): JsonObject {
  return { kind: 'object', members: obj.members.filter((m) => m.key !== key) }
}

/** The helper name this package answers as: `credHelpers[host] = "iid"` runs docker-credential-iid. */
const helperName = ourHelper

/** The `credHelpers` object, or undefined when absent or null; anything else makes the file unusable to us. */
function credHelpersOf(root: JsonObject): JsonObject | undefined {
  const node = getMember(root, 'credHelpers')
  if (node === undefined || node === 'null') return undefined
  const helpers = asObject(node)
  if (helpers === undefined) throw new CliError(ExitCode.configUnusable, `"credHelpers" is a JSON ${kindOf(node)}, not an object; nothing was changed`, { hint: 'fix or remove "credHelpers" in that file' })
  return helpers
}

/**
 * Credential-helper mode: maps each registry to docker-credential-iid in `credHelpers` and removes
 * this tool's own `auths` entries for it (and competing spellings), which the helper replaces.
 * Others' `auths` entries stay: the helper shadows them for Docker, and a warning says so.
 */
export function planCredentialHelper(doc: ConfigDocument, keys: readonly string[], username: string): MergePlan {
  const changes: MergeChanges = { added: [], updated: [], removed: [] }
  const warnings: string[] = []
  const helpers = credHelpersOf(doc.root)
  let members: readonly JsonMember[] = helpers?.members ?? []
  for (const key of keys) {
    const current = members.filter((m) => m.key === key)
    const last = current.at(-1)
    if (current.length === 1 && stringValue(last!.value) === helperName) continue
    const entry: JsonMember = { key, rawKey: JSON.stringify(key), value: jsonString(helperName) }
    if (last === undefined) {
      members = [...members, entry]
      changes.added.push(`credHelpers[${JSON.stringify(key)}]`)
    } else {
      const named = stringValue(last.value)
      if (named !== helperName) warnings.push(`replaced credHelpers[${JSON.stringify(key)}], which named ${named !== undefined ? `docker-credential-${clipped(named)}` : `a JSON ${kindOf(last.value)}`}`)
      const first = members.findIndex((m) => m.key === key)
      members = members.flatMap((m, i) => (i === first ? [entry] : m.key === key ? [] : [m]))
      changes.updated.push(`credHelpers[${JSON.stringify(key)}]`)
    }
  }
  let root = changes.added.length + changes.updated.length > 0 ? withMember(doc.root, 'credHelpers', { kind: 'object', members }) : doc.root

  const auths = asObject(getMember(root, 'auths'))
  if (auths !== undefined) {
    const kept = auths.members.filter((m) => {
      if (!keys.some((key) => m.key === key || isCompetingKey(m.key, key))) return true
      if (isOwnEntry(m.value, username)) {
        changes.removed.push(`auths[${JSON.stringify(m.key)}]`)
        return false
      }
      warnings.push(`auths[${shown(m.key)}] holds a login this tool did not write (${credentialOwner(m.value)}); kept, but Docker and skopeo now ask docker-credential-${helperName} instead`)
      return true
    })
    if (kept.length !== auths.members.length) root = withMember(root, 'auths', { kind: 'object', members: kept })
  }
  const findings = diagnose(root, keys, username, 'run iid-docker-auth install --credential-helper again').filter((f) => !f.message.startsWith('older entries of this tool'))
  return { root, changes, warnings: [...warnings, ...findings.map(asWarning)] }
}

/** Sets `key` in an object: replaces the last occurrence in place, or appends. */
function withMember(obj: JsonObject, key: string, value: JsonNode): JsonObject {
  const index = obj.members.map((m) => m.key).lastIndexOf(key)
  if (index < 0) return { kind: 'object', members: [...obj.members, { key, rawKey: JSON.stringify(key), value }] }
  return { kind: 'object', members: obj.members.map((m, i) => (i === index ? { key: m.key, rawKey: m.rawKey, value } : m)) }
}

/** Names whose values are credentials, wherever they appear, compared as Go compares field names. */
const secretName = /^(?:auth|pass|pwd)$|password|passwd|token|secret|authorization|cookie|credential|api_?key|private_?key/
/** A URL or proxy setting with a password in it (`http://user:pass@host`, `user:pass@host:3128`). */
const withPassword = /^(?:[a-z][a-z0-9+.-]*:\/\/)?[^/@\s:]*:[^/@\s]*@/i
const redacted = jsonString('<redacted>')

/**
 * A copy for --dry-run output with every credential value replaced: any member named like a
 * credential (in any case, at any depth, whatever its value), any string that holds a user and
 * password before an @, and any auths entry that is not an object. Go's decoder reads "Auths" as "auths" and
 * merges repeated objects, so every spelling and every occurrence counts.
 */
export function redact(root: JsonObject): JsonObject {
  const walk = (node: JsonNode, inAuths: boolean): JsonNode => {
    if (typeof node === 'string') return withPassword.test(stringValue(node) ?? '') ? redacted : node
    if (node.kind === 'array') return { kind: 'array', items: node.items.map((item) => walk(item, false)) }
    return {
      kind: 'object',
      members: node.members.map((m) => {
        const name = foldKey(m.key)
        const secret = secretName.test(name) || (inAuths && asObject(m.value) === undefined)
        if (secret) return m.value === 'null' || m.value === '""' ? m : { key: m.key, rawKey: m.rawKey, value: redacted }
        return { key: m.key, rawKey: m.rawKey, value: walk(m.value, node === root && name === 'auths') }
      }),
    }
  }
  return walk(root, false) as JsonObject
}

export const renderConfig = (root: JsonObject): string => serializeJson(root)
