// config.json as Docker reads it: the bytes every reader accepts, and the credential fields as Go's
// encoding/json decodes them for Docker, skopeo and kubelet (keys in any case, repeated objects
// merged). Pure functions; the changes are planned in merge.ts, written by src/fs/update-config-file.ts.

import { CliError, ExitCode, shown } from '../errors.js'
import {
  type JsonMember,
  type JsonNode,
  type JsonObject,
  JsonSyntaxError,
  asObject,
  jsonObject,
  kindOf,
  parseJson,
  serializeJson,
  stringValue,
} from './json-document.js'

/** Larger files are refused (78) rather than read into memory at boot. */
export const maxConfigBytes = 32 * 1024 * 1024

export interface ConfigDocument {
  /** The root object; an empty object for a missing, empty or whitespace-only file. */
  readonly root: JsonObject
}

const unusable = (path: string, problem: string, fix: string): CliError =>
  new CliError(ExitCode.configUnusable, `${path}: ${problem}; nothing was changed`, { hint: fix })

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Parses the bytes of an existing config file, refusing (exit 78) only what Docker cannot load either. */
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
    throw unusable(path, 'is not valid UTF-8, and a rewrite could not keep those bytes', moveAside)
  }
  if (text.trim() === '') return { root: jsonObject([]) }
  let root: JsonNode
  try {
    root = parseJson(text)
  } catch (error) {
    if (error instanceof JsonSyntaxError)
      throw unusable(path, error.reason.startsWith('nesting') ? `has ${error.message}` : `is not valid JSON (${error.message})`, moveAside)
    throw error
  }
  if (typeof root !== 'object' || root.kind !== 'object')
    throw unusable(path, `has a JSON ${kindOf(root)} at the top, not an object`, moveAside)
  for (const m of root.members) {
    if (foldKey(m.key) === 'auths' && asObject(m.value) === undefined && m.value !== 'null') {
      throw unusable(path, `has ${shown(m.key)} as a JSON ${kindOf(m.value)}, not an object`, moveAside)
    }
  }
  return { root }
}

export const renderConfig = (root: JsonObject): string => serializeJson(root)

/**
 * A key as Go's encoding/json compares it with a struct field's name: ASCII letters in any case,
 * and the two letters whose case folds into ASCII (ſ is s, the Kelvin sign is k). Nothing
 * else: Go does not fold ß into ss.
 */
export function foldKey(key: string): string {
  // toLowerCase already takes the Kelvin sign to k, and can make no other ASCII letter.
  const lower = key.toLowerCase()
  return lower.includes('\u017f') ? lower.replaceAll('\u017f', 's') : lower
}

/**
 * A string field as Go decodes it into a struct: the last member whose key folds to `field` and
 * that is not null (a null leaves a Go string as it was). undefined when none is, or when that
 * member is not a string.
 */
export function goString(obj: JsonObject, field: string): string | undefined {
  for (let i = obj.members.length - 1; i >= 0; i--) {
    const m = obj.members[i]!
    if (m.value !== 'null' && foldKey(m.key) === field) return stringValue(m.value)
  }
  return undefined
}

/** Whether a top-level member is one Go decodes into the map `field` (auths, credHelpers). */
const decodesInto = (key: string, field: string): boolean => foldKey(key) === foldKey(field)

/**
 * The map `field` as Go decodes it: every top-level member whose key folds to it, in order, into one
 * map, later entries winning (as getMember reads them) and a null emptying what came before.
 */
export function goObject(root: JsonObject, field: string): JsonObject {
  // Appended in place: copying the list at each repeat made a file of repeated keys quadratic.
  let members: Array<JsonObject['members'][number]> = []
  for (const m of root.members) {
    if (!decodesInto(m.key, field)) continue
    if (m.value === 'null') members = []
    else for (const member of asObject(m.value)?.members ?? []) members.push(member)
  }
  return { kind: 'object', members }
}

/** The object where Go reads `field` last, and so where a value written wins: the last member that folds to it. */
export function lastGoObject(root: JsonObject, field: string): JsonObject | undefined {
  return asObject(root.members.findLast((m) => decodesInto(m.key, field))?.value)
}

/** Sets `field` where Go reads it last: replaces the last member that folds to it (its spelling kept), or appends `field`. */
export function withGoMember(root: JsonObject, field: string, value: JsonNode): JsonObject {
  const index = root.members.findLastIndex((m) => decodesInto(m.key, field))
  // A null after earlier maps empties them for Go: kept, with ours after it, so they stay emptied.
  const hidden = (m: JsonMember): boolean => decodesInto(m.key, field) && (asObject(m.value)?.members.length ?? 0) > 0
  const emptying = index > 0 && root.members[index]!.value === 'null' && root.members.slice(0, index).some(hidden)
  if (index < 0 || emptying) return { kind: 'object', members: [...root.members, { key: field, rawKey: JSON.stringify(field), value }] }
  return { kind: 'object', members: root.members.map((m, i) => (i === index ? { key: m.key, rawKey: m.rawKey, value } : m)) }
}

/**
 * Changes every object Go merges into `field`; `change` returns undefined to drop that member (an
 * empty credHelpers says nothing to any reader).
 */
export function mapGoObjects(root: JsonObject, field: string, change: (obj: JsonObject) => JsonObject | undefined): JsonObject {
  return {
    kind: 'object',
    members: root.members.flatMap((m) => {
      const obj = decodesInto(m.key, field) ? asObject(m.value) : undefined
      if (obj === undefined) return [m]
      const value = change(obj)
      return value === undefined ? [] : [{ key: m.key, rawKey: m.rawKey, value }]
    }),
  }
}
