// What a run changes in config.json, as pure functions of the document: our auths entries (write),
// their removal (remove), and the credHelpers mapping (install --credential-helper). Each writes
// where Go reads last and removes from every object Go merges, so Docker sees what we planned.

import { CliError, ExitCode, clipped, shown } from '../errors.js'
import { type JsonMember, type JsonNode, type JsonObject, asObject, jsonObject, jsonString, kindOf, stringValue } from './json-document.js'
import { type ConfigDocument, foldKey, goObject, lastGoObject, mapGoObjects, withGoMember } from './docker-config.js'
import { asWarning, diagnose } from './diagnostics.js'
import { credentialOwner, isOwnEntry, ourHelper } from './entries.js'
import { isCompetingKey } from './registry-keys.js'

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

const noChanges = (): MergeChanges => ({ added: [], updated: [], removed: [] })
const changed = (c: MergeChanges): boolean => c.added.length + c.updated.length + c.removed.length > 0
const pushOnce = (list: string[], item: string): void => {
  if (!list.includes(item)) list.push(item)
}

/** Drops, from every auths object, this tool's entries that `matches`; `removed` names each. */
function withoutOwnEntries(
  root: JsonObject,
  matches: (key: string) => boolean,
  username: string,
  removed: (key: string) => void,
): JsonObject {
  return mapGoObjects(root, 'auths', (obj) => ({
    kind: 'object',
    members: obj.members.filter((m) => {
      if (!matches(m.key) || !isOwnEntry(m.value, username)) return true
      removed(m.key)
      return false
    }),
  }))
}

/**
 * Merges our entries into the document; changes nothing else. `username` tells our own entries from
 * others': a competing spelling of our key is removed only when it is ours (an older entry of this
 * tool), since anything else is someone's login that we have no business deleting.
 */
export function planMerge(doc: ConfigDocument, entries: readonly AuthEntry[], username: string): MergePlan {
  const changes = noChanges()
  const warnings: string[] = []
  const competing = (key: string): boolean => entries.some((e) => isCompetingKey(key, e.key))
  // Someone's login under another spelling is kept (diagnose warns about it).
  let root = withoutOwnEntries(doc.root, competing, username, (key) => pushOnce(changes.removed, key))
  const readByGo = goObject(root, 'auths').members
  let members: readonly JsonMember[] = lastGoObject(root, 'auths')?.members ?? []

  for (const { key, auth } of entries) {
    const first = members.findIndex((m) => m.key === key)
    const count = members.filter((m) => m.key === key).length
    if (count === 1 && holdsOnly(members[first]!.value, auth)) continue
    // Our key is ours to write, but replacing someone's login there must not pass as a plain "wrote".
    for (const m of readByGo) {
      if (m.key !== key || isOwnEntry(m.value, username)) continue
      pushOnce(warnings, `replaced auths[${JSON.stringify(key)}], which held a login this tool did not write (${credentialOwner(m.value)})`)
    }
    const entry: JsonMember = { key, rawKey: JSON.stringify(key), value: jsonObject([['auth', jsonString(auth)]]) }
    if (count === 0) {
      members = [...members, entry]
      changes.added.push(key)
    } else {
      // Replace in place (the first occurrence) and drop duplicates of our own key.
      members = members.flatMap((m, i) => (i === first ? [entry] : m.key === key ? [] : [m]))
      changes.updated.push(key)
    }
  }

  if (changes.added.length + changes.updated.length > 0) root = withGoMember(root, 'auths', { kind: 'object', members })
  if (!changed(changes)) root = doc.root
  return {
    root,
    changes,
    warnings: [
      ...warnings,
      ...diagnose(
        root,
        entries.map((e) => e.key),
        username,
        'run this tool again',
      ).map(asWarning),
    ],
  }
}

/** Whether an entry is exactly `{"auth": <auth>}`, as this tool writes it. */
function holdsOnly(value: JsonNode, auth: string): boolean {
  const fields = asObject(value)?.members ?? []
  const field = fields[0]
  return fields.length === 1 && field !== undefined && field.key === 'auth' && stringValue(field.value) === auth
}

/** The helper name this package answers as: `credHelpers[host] = "iid"` runs docker-credential-iid. */
const helperName = ourHelper

/** Refuses a credHelpers that is neither an object nor null: Docker cannot load that file, and we cannot map into it. */
function checkCredHelpers(root: JsonObject): void {
  for (const m of root.members) {
    if (foldKey(m.key) !== 'credhelpers' || m.value === 'null' || asObject(m.value) !== undefined) continue
    throw new CliError(ExitCode.configUnusable, `${shown(m.key)} is a JSON ${kindOf(m.value)}, not an object; nothing was changed`, {
      hint: `fix or remove ${shown(m.key)} in that file`,
    })
  }
}

/**
 * Removes this tool's entries for `keys` (and competing spellings of them): those whose `auth`
 * carries `username`. Entries someone else wrote under the same key are left alone, with a warning.
 */
export function planRemove(doc: ConfigDocument, keys: readonly string[], username: string): MergePlan {
  const changes = noChanges()
  const ours = (key: string): boolean => keys.some((k) => key === k || isCompetingKey(key, k))
  // Our credential-helper mapping goes too; another helper's entry for the same host is not ours.
  let root = mapGoObjects(doc.root, 'credHelpers', (helpers) => {
    const kept = helpers.members.filter((m) => !keys.includes(m.key) || stringValue(m.value) !== helperName)
    if (kept.length === helpers.members.length) return helpers
    for (const m of helpers.members) if (!kept.includes(m)) pushOnce(changes.removed, `credHelpers[${JSON.stringify(m.key)}]`)
    return kept.length === 0 ? undefined : { kind: 'object', members: kept }
  })
  root = withoutOwnEntries(root, ours, username, (key) => pushOnce(changes.removed, key))
  const warnings = goObject(root, 'auths')
    .members.filter((m) => ours(m.key))
    .map((m) => `auths[${shown(m.key)}] was not written by this tool (${credentialOwner(m.value)}); left alone`)
  return { root: changed(changes) ? root : doc.root, changes, warnings }
}

/**
 * Credential-helper mode: maps each registry to docker-credential-iid in `credHelpers` and removes
 * this tool's own `auths` entries for it (and competing spellings), which the helper replaces.
 * Others' `auths` entries stay: the helper shadows them for Docker, and a warning says so.
 */
export function planCredentialHelper(doc: ConfigDocument, keys: readonly string[], username: string): MergePlan {
  checkCredHelpers(doc.root)
  const changes = noChanges()
  const warnings: string[] = []
  let members: readonly JsonMember[] = lastGoObject(doc.root, 'credHelpers')?.members ?? []
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
      const was = named !== undefined ? `docker-credential-${clipped(named)}` : `a JSON ${kindOf(last.value)}`
      if (named !== helperName) warnings.push(`replaced credHelpers[${JSON.stringify(key)}], which named ${was}`)
      const first = members.findIndex((m) => m.key === key)
      members = members.flatMap((m, i) => (i === first ? [entry] : m.key === key ? [] : [m]))
      changes.updated.push(`credHelpers[${JSON.stringify(key)}]`)
    }
  }
  let root =
    changes.added.length + changes.updated.length > 0 ? withGoMember(doc.root, 'credHelpers', { kind: 'object', members }) : doc.root

  const ours = (key: string): boolean => keys.some((k) => key === k || isCompetingKey(key, k))
  root = withoutOwnEntries(root, ours, username, (key) => changes.removed.push(`auths[${JSON.stringify(key)}]`))
  for (const m of goObject(root, 'auths').members) {
    if (!ours(m.key)) continue
    const owner = credentialOwner(m.value)
    const instead = `kept, but Docker and skopeo now ask docker-credential-${helperName} instead`
    warnings.push(`auths[${shown(m.key)}] holds a login this tool did not write (${owner}); ${instead}`)
  }
  if (!changed(changes)) root = doc.root
  const findings = diagnose(root, keys, username, 'run iid-docker-auth install --credential-helper again').filter(
    (f) => !f.message.startsWith('older entries of this tool'),
  )
  return { root, changes, warnings: [...warnings, ...findings.map(asWarning)] }
}
