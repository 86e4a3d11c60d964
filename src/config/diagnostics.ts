// What is wrong around our entries in a config file, in one place: `write` prints these as
// warnings (the entry is still written) and `check` as verdicts. Pure functions.

import { type JsonNode, type JsonObject, asObject, duplicateKeys, kindOf, stringValue } from './json-document.js'
import { foldKey, goObject, goString } from './docker-config.js'
import { credentialOwner, entryProblem, helperFor, isOwnEntry, ourHelper } from './entries.js'
import { isCompetingKey } from './registry-keys.js'
import { clipped, shown } from '../errors.js'

export interface Finding {
  /** `fail`: Docker ignores our entry or cannot load the file at all; `warn`: it works, with a risk. */
  readonly verdict: 'warn' | 'fail'
  readonly message: string
  readonly fix: string
}

/** Why an entry of the wrong type matters: Docker's next save would lose everything in the file. */
const unloadable = 'Docker will fail to load this file and discard all of it on its next save'

/** One line for a log: the finding and its fix. */
export const asWarning = (finding: Finding): string => `${finding.message}; fix: ${finding.fix}`

/**
 * The findings for a document as it is (check) or as it will be written (write), for the
 * registries we write. `rerun` is how the user runs this tool again for a registry.
 */
export function diagnose(
  root: JsonObject,
  registries: readonly string[],
  username: string,
  rerun: string | ((registry: string) => string),
): Finding[] {
  const again = (registry: string): string => (typeof rerun === 'string' ? rerun : rerun(registry))
  const findings: Finding[] = []
  const credHelpers = goObject(root, 'credHelpers')
  // credHelpers["<registry>"] = "iid" is credential-helper mode, the intended setup; another helper there shadows us.
  const ours = (registry: string): boolean => helperFor(credHelpers, registry) === ourHelper
  const shadowed = registries.filter((r) => !ours(r))
  const store = goString(root, 'credsstore')
  if (store !== undefined && store !== '' && store !== ourHelper && shadowed.length > 0) {
    findings.push({
      verdict: 'fail',
      message:
        `"credsStore": ${shown(store)} is set, so Docker asks docker-credential-${clipped(store)} ` +
        'and ignores the entries in this file (skopeo and kubelet still use them)',
      fix:
        `remove "credsStore" from the file, or map the registry to this tool's helper: ` +
        `iid-docker-auth install --credential-helper --registry ${shadowed[0]}`,
    })
  }
  for (const registry of registries) {
    const helper = helperFor(credHelpers, registry)
    if (helper !== undefined && helper !== ourHelper) {
      findings.push({
        verdict: 'fail',
        message:
          `"credHelpers" names ${registry} (docker-credential-${clipped(helper)}), ` +
          "so Docker and skopeo ask that helper and ignore this tool's credential",
        fix: `remove credHelpers["${registry}"], or set it to "${ourHelper}"`,
      })
    }
  }
  for (const m of root.members) {
    const field = foldKey(m.key)
    const wrong =
      (field === 'credsstore' && !isStringOrNull(m.value)) ||
      (field === 'credhelpers' && asObject(m.value) === undefined && m.value !== 'null')
    if (wrong)
      findings.push({
        verdict: 'fail',
        message: `${shown(m.key)} is a JSON ${kindOf(m.value)}: ${unloadable}`,
        fix: `fix or remove ${shown(m.key)}`,
      })
    for (const helper of field === 'credhelpers' ? (asObject(m.value)?.members ?? []) : []) {
      if (!isStringOrNull(helper.value))
        findings.push({
          verdict: 'fail',
          message: `credHelpers[${shown(helper.key)}] is a JSON ${kindOf(helper.value)}, not a helper name: ${unloadable}`,
          fix: 'fix or remove that entry',
        })
    }
  }
  findings.push(...spellingFindings(root))
  const auths = goObject(root, 'auths')
  for (const dup of duplicateKeys(auths)) {
    findings.push({
      verdict: 'warn',
      message: `auths has the key ${shown(dup)} more than once; readers use the last one`,
      fix: 'keep one of them',
    })
  }
  for (const registry of registries) {
    // Each competing key once, as readers see it: its last occurrence.
    const competing = auths.members.filter(
      (m, i) => isCompetingKey(m.key, registry) && auths.members.findLastIndex((o) => o.key === m.key) === i,
    )
    const own = competing.filter((m) => isOwnEntry(m.value, username)).map((m) => shown(m.key))
    if (own.length > 0) {
      findings.push({
        verdict: 'warn',
        message: `older entries of this tool under other spellings of ${registry}: ${own.join(', ')}`,
        fix: `${again(registry)}, which removes them`,
      })
    }
    for (const m of competing) {
      if (isOwnEntry(m.value, username)) continue
      // docker logout of any spelling erases every spelling of the host, ours too: hence the rerun.
      findings.push({
        verdict: 'warn',
        message:
          `auths[${shown(m.key)}] is another spelling of ${registry} with a login this tool did not write ` +
          `(${credentialOwner(m.value)}): Docker and skopeo use the entry for ${registry}, other readers may pick either; kept`,
        fix:
          `if it is stale, docker logout ${shellQuote(m.key)} (it removes every spelling of ${registry}, this tool's too), ` +
          `then ${again(registry)}`,
      })
    }
  }
  for (const m of auths.members) {
    if (registries.includes(m.key)) continue
    const problem = entryProblem(m.value)
    if (problem !== undefined) {
      findings.push({
        verdict: 'fail',
        message: `auths[${shown(m.key)}] ${problem}: ${unloadable}`,
        fix: 'fix or remove that entry',
      })
    }
  }
  return findings
}

/** The fields Go decodes however their keys are spelt; the two maps it merges when repeated. */
const goFields = ['auths', 'credHelpers', 'credsStore']
const mergedFields = ['auths', 'credHelpers']

/**
 * Keys Docker reads other than as written: Go matches a field's name in any case and merges repeated
 * maps, which other readers (docker-py, hand-written JSON code) may not. This tool writes where Go
 * reads last; the file is not refused, since Docker and skopeo load it.
 */
function spellingFindings(root: JsonObject): Finding[] {
  const findings: Finding[] = []
  const fieldOf = (key: string): string | undefined => goFields.find((f) => foldKey(f) === foldKey(key))
  for (const dup of duplicateKeys(root)) {
    if (fieldOf(dup) === undefined)
      findings.push({
        verdict: 'warn',
        message: `the key ${shown(dup)} appears more than once at the top level; readers use the last one`,
        fix: 'keep one of them',
      })
  }
  for (const field of goFields) {
    const keys = root.members.filter((m) => fieldOf(m.key) === field).map((m) => m.key)
    const merged = mergedFields.includes(field) ? 'Docker merges them, later entries winning' : 'Docker uses the last one'
    if (keys.length > 1 && keys.every((k) => k === field)) {
      findings.push({
        verdict: 'warn',
        message: `the key ${shown(field)} appears more than once at the top level; ${merged}`,
        fix: 'merge them into one',
      })
    } else if (keys.length > 1) {
      const spelt = [...new Set(keys)].map(shown).join(', ')
      findings.push({
        verdict: 'warn',
        message: `the keys ${spelt} are all read as "${field}" by Docker and skopeo (Go matches keys in any case); ${merged}`,
        fix: `merge them into one "${field}"`,
      })
    } else if (keys.length === 1 && keys[0] !== field) {
      findings.push({
        verdict: 'warn',
        message: `the key ${shown(keys[0]!)} is read as "${field}" by Docker and skopeo (Go matches keys in any case), not by every reader`,
        fix: `rename it to "${field}"`,
      })
    }
  }
  return findings
}

const isStringOrNull = (node: JsonNode): boolean => node === 'null' || stringValue(node) !== undefined

/** A key as one shell word, for a fix the user may paste: a config file's keys are anyone's text. */
const shellQuote = (text: string): string => (/^[A-Za-z0-9_./:@%+=,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`)
