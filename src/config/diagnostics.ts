// What is wrong around our entries in a config file, in one place: `write` prints these as
// warnings (the entry is still written) and `check` as verdicts. Also the rules for reading an
// entry: whose it is, and whether Docker can load it. Pure functions.

import { type JsonMember, type JsonNode, type JsonObject, asObject, duplicateKeys, getMember, kindOf, stringValue } from './json-document.js'
import { isCompetingKey } from './registry-keys.js'
import { clipped, shown } from '../errors.js'

export interface Finding {
  /** `fail`: Docker ignores our entry or cannot load the file at all; `warn`: it works, with a risk. */
  readonly verdict: 'warn' | 'fail'
  readonly message: string
  readonly fix: string
}

/** One line for a log: the finding and its fix. */
export const asWarning = (finding: Finding): string => `${finding.message}; fix: ${finding.fix}`

/**
 * The findings for a document as it is (check) or as it will be written (write), for the
 * registries we write. `rerun` is how the user runs this tool again for a registry.
 */
export function diagnose(root: JsonObject, registries: readonly string[], username: string, rerun: string | ((registry: string) => string)): Finding[] {
  const again = (registry: string): string => (typeof rerun === 'string' ? rerun : rerun(registry))
  const findings: Finding[] = []
  const credHelpers = mergedCredHelpers(root)
  // credHelpers["<registry>"] = "iid" is credential-helper mode, the intended setup; another helper there shadows us.
  const ours = (registry: string): boolean => helperFor(credHelpers, registry) === ourHelper
  const shadowed = registries.filter((r) => !ours(r))
  const store = goString(root, 'credsstore')
  if (store !== undefined && store !== '' && store !== ourHelper && shadowed.length > 0) {
    findings.push({
      verdict: 'fail',
      message: `"credsStore": ${shown(store)} is set, so Docker asks docker-credential-${clipped(store)} and ignores the entries in this file (skopeo and kubelet still use them)`,
      fix: `remove "credsStore" from the file, or map the registry to this tool's helper: iid-docker-auth install --credential-helper --registry ${shadowed[0]}`,
    })
  }
  for (const registry of registries) {
    const helper = helperFor(credHelpers, registry)
    if (helper !== undefined && helper !== ourHelper) {
      findings.push({ verdict: 'fail', message: `"credHelpers" names ${registry} (docker-credential-${clipped(helper)}), so Docker and skopeo ask that helper and ignore this tool's credential`, fix: `remove credHelpers["${registry}"], or set it to "${ourHelper}"` })
    }
  }
  for (const m of root.members) {
    const wrong = (m.key === 'credsStore' && !isStringOrNull(m.value)) || (m.key === 'credHelpers' && asObject(m.value) === undefined && m.value !== 'null')
    if (wrong) findings.push({ verdict: 'fail', message: `"${m.key}" is a JSON ${kindOf(m.value)}: Docker will fail to load this file and discard all of it on its next save`, fix: `fix or remove "${m.key}"` })
    for (const helper of m.key === 'credHelpers' ? (asObject(m.value)?.members ?? []) : []) {
      if (!isStringOrNull(helper.value)) findings.push({ verdict: 'fail', message: `credHelpers[${shown(helper.key)}] is a JSON ${kindOf(helper.value)}, not a helper name: Docker will fail to load this file and discard all of it on its next save`, fix: 'fix or remove that entry' })
    }
  }
  for (const dup of duplicateKeys(root)) {
    const readers = dup === 'credHelpers' ? 'Docker merges them, later entries winning' : 'readers use the last one'
    findings.push({ verdict: 'warn', message: `the key ${shown(dup)} appears more than once at the top level; ${readers}`, fix: dup === 'credHelpers' ? 'merge them into one' : 'keep one of them' })
  }
  const auths = asObject(getMember(root, 'auths'))
  if (auths === undefined) return findings
  for (const dup of duplicateKeys(auths)) {
    findings.push({ verdict: 'warn', message: `auths has the key ${shown(dup)} more than once; readers use the last one`, fix: 'keep one of them' })
  }
  for (const registry of registries) {
    // Each competing key once, as readers see it: its last occurrence.
    const competing = auths.members.filter((m, i) => isCompetingKey(m.key, registry) && auths.members.findLastIndex((o) => o.key === m.key) === i)
    const own = competing.filter((m) => isOwnEntry(m.value, username)).map((m) => shown(m.key))
    if (own.length > 0) {
      findings.push({ verdict: 'warn', message: `older entries of this tool under other spellings of ${registry}: ${own.join(', ')}`, fix: `${again(registry)}, which removes them` })
    }
    for (const m of competing) {
      if (isOwnEntry(m.value, username)) continue
      // docker logout of any spelling erases every spelling of the host, ours too: hence the rerun.
      findings.push({
        verdict: 'warn',
        message: `auths[${shown(m.key)}] is another spelling of ${registry} with a login this tool did not write (${credentialOwner(m.value)}): Docker and skopeo use the entry for ${registry}, other readers may pick either; kept`,
        fix: `if it is stale, docker logout ${shellQuote(m.key)} (it removes every spelling of ${registry}, this tool's too), then ${again(registry)}`,
      })
    }
  }
  for (const m of auths.members) {
    if (registries.includes(m.key)) continue
    const problem = entryProblem(m.value)
    if (problem !== undefined) {
      findings.push({ verdict: 'fail', message: `auths[${shown(m.key)}] ${problem}: Docker will fail to load this file and discard all of it on its next save`, fix: 'fix or remove that entry' })
    }
  }
  return findings
}

/**
 * Every credHelpers object as one, as Go decodes them into a map: repeated objects merge, later
 * entries winning, and a null empties the map.
 */
function mergedCredHelpers(root: JsonObject): JsonObject {
  let members: JsonMember[] = []
  for (const m of root.members) {
    if (m.key !== 'credHelpers') continue
    members = m.value === 'null' ? [] : [...members, ...(asObject(m.value)?.members ?? [])]
  }
  return { kind: 'object', members }
}

/**
 * The helper credHelpers names for a registry. An empty name, or one that is not a string (reported
 * on its own: Docker cannot load that file), is none: Docker then uses credsStore or the file.
 */
function helperFor(credHelpers: JsonObject, registry: string): string | undefined {
  const helper = stringValue(getMember(credHelpers, registry))
  return helper === '' ? undefined : helper
}

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

const isStringOrNull = (node: JsonNode): boolean => node === 'null' || stringValue(node) !== undefined

/** The string fields of an auths entry, which Go decodes into docker/cli's types.AuthConfig. */
const entryFields = new Set(['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'])

/** The suffix of this package's Docker credential helper, docker-credential-iid. */
export const ourHelper = 'iid'

export type CredentialSource =
  | { readonly kind: 'helper'; readonly helper: string; readonly via: 'credHelpers' | 'credsStore' }
  | { readonly kind: 'auths'; readonly own: boolean }
  | { readonly kind: 'none' }

/**
 * Where a client that honours credHelpers (Docker CLI, containers/image, crane, nerdctl, BuildKit)
 * gets the credential for `registry` from this file: an exact credHelpers key, else credsStore,
 * else the auths entry (docker/cli configfile/file.go). kubelet and containerd CRI read only auths.
 */
export function credentialSource(root: JsonObject, registry: string, username: string): CredentialSource {
  const helper = helperFor(mergedCredHelpers(root), registry)
  if (helper !== undefined) return { kind: 'helper', helper, via: 'credHelpers' }
  const store = goString(root, 'credsstore')
  if (store !== undefined && store !== '') return { kind: 'helper', helper: store, via: 'credsStore' }
  return authsSource(root, registry, username)
}

/** The auths entry for `registry`, as kubelet and containerd CRI (which ignore helpers) see it. */
export function authsSource(root: JsonObject, registry: string, username: string): CredentialSource {
  const auths = asObject(getMember(root, 'auths'))
  const entry = auths === undefined ? undefined : getMember(auths, registry)
  return entry === undefined ? { kind: 'none' } : { kind: 'auths', own: isOwnEntry(entry, username) }
}

/**
 * Whether an `auths` entry is this tool's: its `auth` carries our user name (with any PKCS7), and
 * it holds no identity token, which this tool never writes.
 */
export const isOwnEntry = (value: JsonNode, username: string): boolean => authUser(value) === username && !hasIdentityToken(value)

function hasIdentityToken(value: JsonNode): boolean {
  const entry = asObject(value)
  const token = entry === undefined ? undefined : goString(entry, 'identitytoken')
  return token !== undefined && token !== ''
}

/** A key as one shell word, for a fix the user may paste: a config file's keys are anyone's text. */
const shellQuote = (text: string): string => (/^[A-Za-z0-9_./:@%+=,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`)

/** Whose login an entry holds, for messages: never a secret, only the user name or the kind. */
export function credentialOwner(value: JsonNode): string {
  if (hasIdentityToken(value)) return 'an identity token'
  const user = authUser(value)
  return user === undefined ? 'no usable auth' : `user ${shown(user)}`
}

/** The user name inside an entry's `auth`, when it decodes; undefined otherwise. */
export function authUser(entry: JsonNode): string | undefined {
  const fields = asObject(entry)
  const auth = fields === undefined ? undefined : goString(fields, 'auth')
  if (auth === undefined || dockerAuthProblem(auth) !== undefined || auth === '') return undefined
  const decoded = Buffer.from(auth.replace(/[\r\n]/g, ''), 'base64').toString('utf8')
  return decoded.slice(0, decoded.indexOf(':'))
}

/** Why Docker could not load this `auths` entry, or undefined when it can. */
export function entryProblem(value: JsonNode): string | undefined {
  const fields = asObject(value)
  // Go decodes null into an empty entry, so Docker loads it; any other non-object it refuses.
  if (fields === undefined) return value === 'null' ? undefined : `is a JSON ${kindOf(value)}, not an object`
  // Go matches the fields in any case; the last one that is not null is the one it keeps.
  let auth: JsonNode | undefined
  for (const m of fields.members) {
    if (m.value === 'null') continue
    const field = foldKey(m.key)
    if (!entryFields.has(field)) continue
    if (typeof m.value !== 'string' || !m.value.startsWith('"')) return `has a ${shown(m.key)} that is not a string`
    if (field === 'auth') auth = m.value
  }
  const problem = auth === undefined ? undefined : dockerAuthProblem(stringValue(auth)!)
  return problem === undefined ? undefined : `has an "auth" that ${problem}`
}

/** The reason Docker's decodeAuth would reject this `auth` value, or undefined if it is fine. */
export function dockerAuthProblem(auth: string): string | undefined {
  if (auth === '') return undefined
  const compact = /[\r\n]/.test(auth) ? auth.replace(/[\r\n]/g, '') : auth
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return 'is not padded standard base64'
  // atob decodes to a string of bytes: no Buffer per entry for a file with thousands of them.
  const colon = atob(compact).indexOf(':')
  if (colon < 0) return 'has no colon between user and password'
  if (colon === 0) return 'has an empty user name'
  return undefined
}
