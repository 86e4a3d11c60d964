// `check`: what is true right now, one line per fact with a verdict and, when not ok, the fix.
// Writes nothing. The verdicts are pure functions of gathered facts; gathering is the only effect.

import { readFileSync } from 'node:fs'
import { type ConfigLocation, readConfigFile, resolveTarget } from './config-file.js'
import { type ConfigDocument, authUser, dockerAuthProblem, entryProblem, maxConfigBytes, parseConfig } from './docker-config.js'
import { CliError, ExitCode, type ExitCodeValue } from './errors.js'
import { type InstanceIdentity, buildAuth, decodeSignature } from './identity.js'
import { tokenTtlSeconds } from './imds.js'
import { getMember } from './json-doc.js'
import type { ProbeResult } from './probe.js'
import { isCompetingKey } from './registry.js'
import { environmentFilePath, unitName } from './systemd-unit.js'

export type Verdict = 'ok' | 'warn' | 'fail'
export type CheckArea = 'imds' | 'identity' | 'config' | 'unit' | 'probe'

export interface CheckLine {
  readonly area: CheckArea
  readonly verdict: Verdict
  readonly message: string
  readonly fix: string | undefined
  /** For a failure: the exit code `check` ends with if this is the first failure. */
  readonly exitCode: ExitCodeValue | undefined
}

const ok = (area: CheckArea, message: string): CheckLine => ({ area, verdict: 'ok', message, fix: undefined, exitCode: undefined })
const warn = (area: CheckArea, message: string, fix: string): CheckLine => ({ area, verdict: 'warn', message, fix, exitCode: undefined })
const fail = (area: CheckArea, message: string, fix: string | undefined, exitCode: ExitCodeValue): CheckLine => ({ area, verdict: 'fail', message, fix, exitCode })

export interface ImdsFacts {
  readonly endpoint: string
  readonly ms: number
  readonly identity: InstanceIdentity | undefined
  readonly error: CliError | undefined
}

export function imdsLines(facts: ImdsFacts): CheckLine[] {
  if (facts.identity === undefined) {
    const error = facts.error!
    return [fail('imds', error.message, error.hint, error.exitCode)]
  }
  const id = facts.identity
  const der = decodeSignature(id.signature)
  // fetchIdentity accepts only a PKCS7 that embeds the served document; anything else is its failure above.
  return [
    ok('imds', `${facts.endpoint}: IMDSv2 token (TTL ${tokenTtlSeconds} s) and identity in ${facts.ms} ms`),
    ok('identity', `instance ${id.instanceId}, account ${id.accountId}, region ${id.region}, zone ${id.availabilityZone ?? 'unknown'}`),
    ok('identity', `PKCS7: base64 of ${der.length} bytes of ASN.1, embeds the served document`),
  ]
}

export interface ConfigFacts {
  readonly location: ConfigLocation
  readonly target: string
  /** undefined: the file does not exist. */
  readonly stat: { readonly mode: number; readonly uid: number; readonly gid: number } | undefined
  readonly document: ConfigDocument | undefined
  readonly error: CliError | undefined
}

export function configLines(facts: ConfigFacts, registries: readonly string[], username: string, expectedAuth: string | undefined, writeHint: (registry: string) => string): CheckLine[] {
  const { path, source } = facts.location
  const lines: CheckLine[] = [ok('config', `${path} (from ${source})${facts.target !== path ? ` -> ${facts.target}` : ''}`)]
  if (facts.error !== undefined) return [...lines, fail('config', facts.error.message, facts.error.hint, facts.error.exitCode)]
  if (facts.stat === undefined) {
    return [...lines, fail('config', `${path} does not exist, so no registry has an entry`, `run ${writeHint(registries.join(','))}`, ExitCode.configUnusable)]
  }
  const mode = facts.stat.mode & 0o777
  const modeText = mode.toString(8).padStart(4, '0')
  if (mode & 0o077) lines.push(warn('config', `${path}: mode ${modeText} lets group or others read the credentials`, `chmod 600 ${facts.target}`))
  else lines.push(ok('config', `${path}: mode ${modeText}, owner ${facts.stat.uid}:${facts.stat.gid}, parses`))

  const root = facts.document!.root
  const auths = getMember(root, 'auths')
  const entries = auths?.kind === 'object' ? auths.members : []
  for (const registry of registries) {
    const entry = [...entries].reverse().find((m) => m.key === registry)
    if (entry === undefined) {
      lines.push(fail('config', `${path}: no entry for ${registry}`, `run ${writeHint(registry)}`, ExitCode.configUnusable))
    } else {
      const auth = entry.value.kind === 'object' ? getMember(entry.value, 'auth') : undefined
      const value = auth?.kind === 'string' ? auth.value : undefined
      if (expectedAuth !== undefined && value === expectedAuth) lines.push(ok('config', `${path}: the entry for ${registry} is current`))
      else if (expectedAuth === undefined) lines.push(warn('config', `${path}: has an entry for ${registry}; whether it is current needs IMDS`, 'fix the IMDS line above'))
      else {
        const user = authUser(entry.value)
        lines.push(
          fail(
            'config',
            user === username
              ? `${path}: the entry for ${registry} is stale: it is another identity's (an image baked with the builder's entry?)`
              : `${path}: the entry for ${registry} is not this tool's (${user === undefined ? 'no usable auth' : `user ${JSON.stringify(user)}`})`,
            `run ${writeHint(registry)}; before baking an image, run iid-docker-auth remove`,
            ExitCode.configUnusable,
          ),
        )
      }
    }
    const competing = entries.filter((m) => isCompetingKey(m.key, registry)).map((m) => JSON.stringify(m.key))
    if (competing.length > 0) lines.push(warn('config', `${path}: competing keys for ${registry}: ${competing.join(', ')}; readers pick among them unpredictably`, `run ${writeHint(registry)}, which removes them`))
  }

  const credsStore = getMember(root, 'credsStore')
  if (credsStore?.kind === 'string' && credsStore.value !== '') {
    lines.push(fail('config', `${path}: "credsStore": ${credsStore.raw} makes Docker ask docker-credential-${credsStore.value} and ignore the entries here`, `remove "credsStore" from ${path}`, ExitCode.configUnusable))
  }
  const credHelpers = getMember(root, 'credHelpers')
  if (credHelpers?.kind === 'object') {
    for (const registry of registries) {
      if (getMember(credHelpers, registry) !== undefined) {
        lines.push(fail('config', `${path}: credHelpers names ${registry}, so Docker and skopeo ignore its entry here`, `remove credHelpers["${registry}"] from ${path}`, ExitCode.configUnusable))
      }
    }
  }
  for (const m of entries) {
    if (registries.includes(m.key)) continue
    const problem = entryProblem(m.value)
    if (problem !== undefined) {
      lines.push(fail('config', `${path}: auths[${JSON.stringify(m.key)}] ${problem}; Docker cannot load this file and will discard it on its next save`, 'fix or remove that entry', ExitCode.configUnusable))
    }
  }
  return lines
}

export type UnitFacts = Record<string, string> | undefined

export function unitLines(facts: UnitFacts): CheckLine[] {
  if (facts === undefined) return [ok('unit', 'systemd is not running here; the unit was not checked')]
  const install = `iid-docker-auth install --registry <host> (or bake it into the image)`
  if (facts['LoadState'] === 'not-found') return [warn('unit', `${unitName} is not installed: nothing runs this tool at boot`, install)]
  const lines: CheckLine[] = []
  if (facts['UnitFileState'] !== 'enabled') lines.push(warn('unit', `${unitName} is installed but ${facts['UnitFileState'] || 'not enabled'}`, `systemctl enable ${unitName}`))
  else lines.push(ok('unit', `${unitName} is installed and enabled`))
  if (facts['Result'] !== undefined && facts['Result'] !== 'success') {
    const status = Number(facts['ExecMainStatus'])
    const known = [64, 65, 69, 71, 73, 78].includes(status) ? (status as ExitCodeValue) : ExitCode.unexpected
    lines.push(fail('unit', `${unitName} failed this boot (${facts['Result']}, exit status ${facts['ExecMainStatus']})`, `journalctl -b -u ${unitName}`, known))
  } else if (facts['ActiveState'] === 'active') lines.push(ok('unit', `${unitName} ran successfully this boot`))
  else lines.push(warn('unit', `${unitName} has not run this boot (${facts['ActiveState']})`, `systemctl start ${unitName}`))
  return lines
}

export function probeLine(registry: string, result: ProbeResult, credential: string): CheckLine {
  const where = `${registry} (${result.url})`
  switch (result.outcome) {
    case 'accepted':
      return ok('probe', `${where} accepts ${credential}: ${result.detail}`)
    case 'open':
      return warn('probe', `${where} ${result.detail}`, 'nothing to prove: the registry does not ask for credentials')
    case 'refused':
      return fail('probe', `${where} refuses ${credential} (HTTP ${result.status}): ${result.detail}`, 'ask the registry operator to allow this account, or check --username and --signature', ExitCode.registryRefused)
    case 'unreachable':
      return fail('probe', `${where} is unreachable: ${result.detail}`, 'check the registry name, DNS and the network path from this instance', ExitCode.imdsUnavailable)
  }
}

/** The first failure's exit code, else 0. */
export const checkExitCode = (lines: readonly CheckLine[]): number => lines.find((l) => l.verdict === 'fail')?.exitCode ?? ExitCode.ok

// ---- gathering (effects) ----

export async function configFacts(location: ConfigLocation): Promise<ConfigFacts> {
  let target = location.path
  try {
    target = await resolveTarget(location.path)
    const snapshot = await readConfigFile(target, maxConfigBytes)
    const document = parseConfig(snapshot.bytes, location.path)
    const stat = snapshot.identity === undefined ? undefined : { mode: snapshot.identity.mode, uid: snapshot.identity.uid, gid: snapshot.identity.gid }
    return { location, target, stat, document, error: undefined }
  } catch (error) {
    if (!(error instanceof CliError)) throw error
    return { location, target, stat: undefined, document: undefined, error }
  }
}

/** The credential a probe sends: the entry in the first config file that has one, else a fresh one. */
export function probeCredential(facts: readonly ConfigFacts[], registry: string, identity: InstanceIdentity | undefined, username: string, stripNewlines: boolean): { auth: string; from: string } | undefined {
  for (const f of facts) {
    const auths = f.document === undefined ? undefined : getMember(f.document.root, 'auths')
    const entry = auths?.kind === 'object' ? getMember(auths, registry) : undefined
    const auth = entry?.kind === 'object' ? getMember(entry, 'auth') : undefined
    if (auth?.kind === 'string' && auth.value !== '' && dockerAuthProblem(auth.value) === undefined) return { auth: auth.value, from: `the entry in ${f.location.path}` }
  }
  if (identity !== undefined) return { auth: buildAuth(username, identity.signature, stripNewlines), from: 'a fresh credential from IMDS' }
  return undefined
}

/** Settings from the unit's environment file, for a bare `check` on an instance. */
export function unitEnvironment(path = environmentFilePath): Record<string, string> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return {}
  }
  const values: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line)
    if (match === null) continue
    let value = match[2]!.trim()
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1).replace(/\\(["\\])/g, '$1')
    values[match[1]!] = value
  }
  return values
}
