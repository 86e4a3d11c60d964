// `check`'s verdicts: pure functions from the facts check.ts gathers to lines of ok, warn or fail,
// each failure with its fix and the exit code it stands for.

import type { ConfigLocation } from '../config/locations.js'
import { type ConfigDocument, goObject, goString } from '../config/docker-config.js'
import { diagnose } from '../config/diagnostics.js'
import {
  type CredentialSource,
  authsSource,
  credentialOwner,
  credentialSource,
  dockerAuthProblem,
  isOwnEntry,
  ourHelper,
} from '../config/entries.js'
import { asObject, getMember } from '../config/json-document.js'
import { type CliError, ExitCode, type ExitCodeValue } from '../errors.js'
import { tokenTtlSeconds } from '../imds/client.js'
import { type InstanceIdentity, buildAuth, decodeSignature } from '../imds/identity.js'
import type { ProbeResult } from '../registry/probe.js'

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

export const ok = (area: CheckArea, message: string): CheckLine => ({ area, verdict: 'ok', message, fix: undefined, exitCode: undefined })
export const warn = (area: CheckArea, message: string, fix: string): CheckLine => ({
  area,
  verdict: 'warn',
  message,
  fix,
  exitCode: undefined,
})
export const fail = (area: CheckArea, message: string, fix: string | undefined, exitCode: ExitCodeValue): CheckLine => ({
  area,
  verdict: 'fail',
  message,
  fix,
  exitCode,
})

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

const helperClients = 'Docker CLI, skopeo/podman/buildah, crane, nerdctl and BuildKit'

/**
 * Which way each client gets the credential for `registry` from this file: clients that honour
 * credHelpers/credsStore (docker/cli's order), and kubelet and containerd CRI, which read only auths.
 */
export function routeLines(
  path: string,
  registry: string,
  source: CredentialSource,
  auths: CredentialSource,
  helperOnPath: boolean,
): CheckLine[] {
  const lines: CheckLine[] = []
  if (source.kind === 'helper' && source.helper === ourHelper) {
    lines.push(ok('config', `${path}: ${helperClients} get ${registry}'s credential from docker-credential-${ourHelper} (${source.via})`))
    if (!helperOnPath)
      lines.push(
        fail(
          'config',
          `${path}: docker-credential-${ourHelper} is not on PATH, so those clients fail for ${registry}`,
          'npm install -g iid-docker-auth, or link bin/docker-credential-iid.cjs into a PATH directory as docker-credential-iid',
          ExitCode.configUnusable,
        ),
      )
  } else if (source.kind === 'helper') {
    // diagnose() reports this shadowing as a failure with its fix.
    lines.push(ok('config', `${path}: ${helperClients} ask docker-credential-${source.helper} (${source.via}) for ${registry}`))
  } else if (source.kind === 'auths') {
    lines.push(ok('config', `${path}: ${helperClients} use the auths entry for ${registry}`))
  }
  const kubelet =
    auths.kind === 'auths'
      ? auths.own
        ? "this tool's auths entry"
        : 'an auths entry this tool did not write'
      : 'nothing (no auths entry; they do not run credential helpers)'
  lines.push(ok('config', `${path}: kubelet and containerd CRI get ${kubelet} for ${registry}`))
  return lines
}

export function configLines(
  facts: ConfigFacts,
  registries: readonly string[],
  username: string,
  expectedAuth: string | undefined,
  writeHint: (registry: string) => string,
  helperOnPath = true,
): CheckLine[] {
  const { path, source } = facts.location
  const lines: CheckLine[] = [ok('config', `${path} (from ${source})${facts.target !== path ? ` -> ${facts.target}` : ''}`)]
  // The reading rules' own words, less the write's "nothing was changed": check never changes anything.
  if (facts.error !== undefined)
    return [...lines, fail('config', facts.error.message.replace(/; nothing was changed$/, ''), facts.error.hint, facts.error.exitCode)]
  if (facts.stat === undefined) {
    return [
      ...lines,
      fail(
        'config',
        `${path} does not exist, so no registry has an entry`,
        registries.length === 0
          ? 'set the registries first (see above), then run this check again'
          : `run ${writeHint(registries.join(','))}`,
        ExitCode.configUnusable,
      ),
    ]
  }
  const mode = facts.stat.mode & 0o777
  const modeText = mode.toString(8).padStart(4, '0')
  if (mode & 0o077)
    lines.push(warn('config', `${path}: mode ${modeText} lets group or others read the credentials`, `chmod 600 ${facts.target}`))
  else lines.push(ok('config', `${path}: mode ${modeText}, owner ${facts.stat.uid}:${facts.stat.gid}, parses`))

  const root = facts.document!.root
  // As Go reads it: any spelling of auths, repeated objects merged.
  const entries = goObject(root, 'auths').members
  for (const registry of registries) {
    const entry = [...entries].reverse().find((m) => m.key === registry)
    const source = credentialSource(root, registry, username)
    const viaHelper = source.kind === 'helper' && source.helper === ourHelper
    lines.push(...routeLines(path, registry, source, authsSource(root, registry, username), helperOnPath))
    if (entry === undefined) {
      // In credential-helper mode no entry is the intended state (routeLines says who still needs one).
      if (!viaHelper) lines.push(fail('config', `${path}: no entry for ${registry}`, `run ${writeHint(registry)}`, ExitCode.configUnusable))
    } else {
      const fields = asObject(entry.value)
      const value = fields === undefined ? undefined : goString(fields, 'auth')
      if (expectedAuth !== undefined && value === expectedAuth) lines.push(ok('config', `${path}: the entry for ${registry} is current`))
      else if (expectedAuth === undefined)
        lines.push(warn('config', `${path}: has an entry for ${registry}; whether it is current needs IMDS`, 'fix the IMDS line above'))
      else {
        lines.push(
          fail(
            'config',
            isOwnEntry(entry.value, username)
              ? `${path}: the entry for ${registry} is stale: it is another identity's (an image baked with the builder's entry?)`
              : `${path}: the entry for ${registry} is not this tool's (${credentialOwner(entry.value)})`,
            `run ${writeHint(registry)}; before baking an image, run iid-docker-auth remove`,
            ExitCode.configUnusable,
          ),
        )
      }
    }
  }
  // The same findings write warns about, as verdicts.
  for (const finding of diagnose(root, registries, username, (registry) => `run ${writeHint(registry)}`)) {
    lines.push(
      finding.verdict === 'fail'
        ? fail('config', `${path}: ${finding.message}`, finding.fix, ExitCode.configUnusable)
        : warn('config', `${path}: ${finding.message}`, finding.fix),
    )
  }
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
      return fail(
        'probe',
        `${where} refuses ${credential} (HTTP ${result.status}): ${result.detail}`,
        'ask the registry operator to allow this account, or check --username and --signature',
        ExitCode.registryRefused,
      )
    case 'unreachable':
      return fail(
        'probe',
        `${where} is unreachable: ${result.detail}`,
        'check the registry name, DNS and the network path from this instance',
        ExitCode.registryUnavailable,
      )
    case 'withheld':
      return fail(
        'probe',
        `${where}: ${result.detail}, so ${credential} was not sent`,
        'the registry operator must serve its token realm over https',
        ExitCode.registryUnavailable,
      )
    case 'invalid-realm':
      return fail(
        'probe',
        `${where}: the registry's challenge names the token realm ${result.detail}, ` +
          "which is not a URL (the registry's fault); nothing was sent",
        'the registry operator must fix the realm in its WWW-Authenticate header',
        ExitCode.registryUnavailable,
      )
    case 'redirected':
      return fail(
        'probe',
        `${where} answered ${credential} with a redirect (${result.detail}), which is not followed with a credential`,
        'the registry operator must name the final https URL as its token realm',
        ExitCode.registryUnavailable,
      )
  }
}

/** The first failure's exit code, else 0. */
export const checkExitCode = (lines: readonly CheckLine[]): number => lines.find((l) => l.verdict === 'fail')?.exitCode ?? ExitCode.ok

/**
 * The credential a probe sends: this tool's entry in the first config file that has one, else a
 * fresh one. Never a login someone else wrote under the same key: it is not ours to send.
 */
export function probeCredential(
  facts: readonly ConfigFacts[],
  registry: string,
  identity: InstanceIdentity | undefined,
  username: string,
  stripNewlines: boolean,
): { auth: string; from: string } | undefined {
  for (const f of facts) {
    const auths = f.document === undefined ? undefined : goObject(f.document.root, 'auths')
    const entry = auths === undefined ? undefined : getMember(auths, registry)
    if (entry === undefined || !isOwnEntry(entry, username)) continue
    const fields = asObject(entry)
    // The auth isOwnEntry judged, as Go reads it: never another field a registry would not get.
    const auth = fields === undefined ? undefined : goString(fields, 'auth')
    if (auth !== undefined && auth !== '' && dockerAuthProblem(auth) === undefined) return { auth, from: `the entry in ${f.location.path}` }
  }
  if (identity !== undefined) return { auth: buildAuth(username, identity.signature, stripNewlines), from: 'a fresh credential from IMDS' }
  return undefined
}
