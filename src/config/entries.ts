// The entries of config.json as readers see them: whose an auths entry is, where a client gets a
// registry's credential from (credHelpers, credsStore or auths), and whether Docker can load an
// entry at all. Pure functions; diagnostics.ts and merge.ts build on them.

import { type JsonNode, type JsonObject, asObject, getMember, kindOf, stringValue } from './json-document.js'
import { foldKey, goObject, goString } from './docker-config.js'
import { shown } from '../errors.js'

/**
 * The helper credHelpers names for a registry. An empty name, or one that is not a string (reported
 * on its own: Docker cannot load that file), is none: Docker then uses credsStore or the file.
 */
export function helperFor(credHelpers: JsonObject, registry: string): string | undefined {
  const helper = stringValue(getMember(credHelpers, registry))
  return helper === '' ? undefined : helper
}

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
  const helper = helperFor(goObject(root, 'credHelpers'), registry)
  if (helper !== undefined) return { kind: 'helper', helper, via: 'credHelpers' }
  const store = goString(root, 'credsstore')
  if (store !== undefined && store !== '') return { kind: 'helper', helper: store, via: 'credsStore' }
  return authsSource(root, registry, username)
}

/** The auths entry for `registry`, as kubelet and containerd CRI (which ignore helpers) see it. */
export function authsSource(root: JsonObject, registry: string, username: string): CredentialSource {
  const entry = getMember(goObject(root, 'auths'), registry)
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
