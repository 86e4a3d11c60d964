// `check`: what is true right now, one line per fact with a verdict and, when not ok, the fix.
// Writes nothing. This file gathers the facts; the verdicts are check-lines.ts, pure.

import { existsSync, realpathSync } from 'node:fs'
import { onPath } from '../cli/path-lookup.js'
import { type CliIo, loggerFor } from '../cli/io.js'
import { monotonicMs } from '../clock.js'
import { maxConfigBytes, parseConfig } from '../config/docker-config.js'
import { ourHelper } from '../config/entries.js'
import { type ConfigLocation, locationsFor } from '../config/locations.js'
import { CliError, ExitCode, shown } from '../errors.js'
import { withRightsFor } from '../fs/acting-user.js'
import { readConfigFile } from '../fs/config-file.js'
import { fetchIdentityFor } from '../imds/client.js'
import { type InstanceIdentity, buildAuth } from '../imds/identity.js'
import { logLine } from '../log.js'
import { probeRegistry } from '../registry/probe.js'
import { type SettingFlags, resolveSettings } from '../settings/settings.js'
import { checkTimeoutSeconds } from '../settings/values.js'
import { loadSettings } from '../settings/settings-file.js'
import { showUnit, systemdIsRunning } from '../systemd/systemctl.js'
import { packageUnitPath, unitName } from '../systemd/names.js'
import { type CheckLine, type ConfigFacts, checkExitCode, configLines, imdsLines, probeCredential, probeLine } from './check-lines.js'
import { ownerLine, registriesSetting, unitLines } from './check-unit.js'

// ---- gathering (effects) ----

/** What is true of one config file, read with the rights the writer would use (src/fs/acting-user.ts). */
export async function configFacts(location: ConfigLocation): Promise<ConfigFacts> {
  let target = location.path
  try {
    return await withRightsFor(location.path, async (real) => {
      target = real
      const snapshot = await readConfigFile(target, maxConfigBytes)
      const document = parseConfig(snapshot.bytes, location.path)
      const stat =
        snapshot.identity === undefined
          ? undefined
          : { mode: snapshot.identity.mode, uid: snapshot.identity.uid, gid: snapshot.identity.gid }
      return { location, target, stat, document, error: undefined }
    })
  } catch (error) {
    if (!(error instanceof CliError)) throw error
    return { location, target, stat: undefined, document: undefined, error }
  }
}

/** A path with its links resolved, as given when that fails. */
function resolved(path: string | undefined): string | undefined {
  try {
    return path ? realpathSync(path) : path
  } catch {
    return path
  }
}

export interface CheckFlags extends SettingFlags {
  probe?: boolean
}

export async function check(flags: CheckFlags, io: CliIo): Promise<number> {
  const started = monotonicMs()
  // A bare `check` on an instance uses the unit's settings: flags, then the environment, then the file.
  const { env, origin, file } = loadSettings(io.env)
  // check's deadline is its own (an operator waits for it): the file's and the variable's are the boot unit's.
  const options = resolveSettings(
    { ...flags, timeout: flags.timeout ?? String(checkTimeoutSeconds) },
    env,
    origin,
    false,
    checkTimeoutSeconds,
  )
  const registries = options.registries.map((r) => r.key)
  const log = loggerFor(options.verbosity, io)
  const lines: CheckLine[] = []
  const emit = (line: CheckLine): void => {
    lines.push(line)
    if (options.verbosity === 'quiet' && line.verdict === 'ok') return
    const priority = { ok: 6, warn: 4, fail: 3 }[line.verdict]
    io.stderr(logLine(priority, `${line.verdict.padEnd(5)} ${line.area.padEnd(9)} ${line.message}`, io.journal))
    if (line.fix !== undefined) io.stderr(logLine(priority, `${' '.repeat(16)}fix: ${line.fix}`, io.journal))
  }
  // What systemd skips, the unit never sees: say so rather than let a setting silently not apply.
  for (const skipped of file.ignored)
    emit({
      area: 'config',
      verdict: 'warn',
      message: `${file.path}:${skipped.line}: systemd ignores ${shown(skipped.text)}: ${skipped.reason}`,
      fix: `write it as NAME=value (no \`export\`), or remove the line`,
      exitCode: undefined,
    })
  // The settings as the unit's own run resolves them, its deadline included: one it would refuse fails it at boot.
  try {
    resolveSettings({ ...flags, timeout: undefined }, env, origin, false)
  } catch (error) {
    if (!(error instanceof CliError)) throw error
    emit({ area: 'config', verdict: 'fail', message: `the unit would refuse: ${error.message}`, fix: error.hint, exitCode: error.exitCode })
  }
  if (registries.length === 0)
    emit({
      area: 'config',
      verdict: 'warn',
      message: 'no registry given, so no entry was checked',
      fix: `set ${registriesSetting} (or pass --registry <host[:port]>)`,
      exitCode: undefined,
    })

  let identity: InstanceIdentity | undefined
  if (options.imdsDisabled) {
    emit({
      area: 'imds',
      verdict: 'fail',
      message: 'AWS_EC2_METADATA_DISABLED=true: IMDS not asked',
      fix: 'unset AWS_EC2_METADATA_DISABLED',
      exitCode: ExitCode.imdsUnavailable,
    })
  } else {
    const t0 = monotonicMs()
    try {
      identity = await fetchIdentityFor(options, log)
      imdsLines({ endpoint: options.endpoint, ms: monotonicMs() - t0, identity, error: undefined }).forEach(emit)
    } catch (error) {
      if (!(error instanceof CliError)) throw error
      imdsLines({ endpoint: options.endpoint, ms: monotonicMs() - t0, identity: undefined, error }).forEach(emit)
    }
  }
  const expected = identity === undefined ? undefined : buildAuth(options.username, identity.signature, options.stripNewlines)
  const writeHint = (registry: string): string => `iid-docker-auth --registry ${registry}`
  const facts = []
  const helperOnPath = onPath(`docker-credential-${ourHelper}`, io.env['PATH'])
  for (const location of locationsFor(options.config, io)) {
    const f = await configFacts(location)
    facts.push(f)
    configLines(f, registries, options.username, expected, (r) => `${writeHint(r)} --config ${location.path}`, helperOnPath).forEach(emit)
  }
  const unit = systemdIsRunning()
    ? await showUnit(unitName, ['LoadState', 'UnitFileState', 'ActiveState', 'Result', 'ExecMainStatus', 'FragmentPath'])
    : undefined
  const owner = ownerLine(resolved(unit?.['FragmentPath']), existsSync(packageUnitPath) ? resolved(packageUnitPath) : undefined)
  if (owner !== undefined) emit(owner)
  unitLines(unit).forEach(emit)
  if (flags.probe) {
    for (const registry of registries) {
      const credential = probeCredential(facts, registry, identity, options.username, options.stripNewlines)
      if (credential === undefined) {
        emit({
          area: 'probe',
          verdict: 'fail',
          message: `${registry}: no credential to probe with (no entry, and IMDS failed)`,
          fix: 'fix the lines above',
          exitCode: ExitCode.imdsUnavailable,
        })
        continue
      }
      const decoded = Buffer.from(credential.auth, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      emit(probeLine(registry, await probeRegistry(registry, decoded.slice(0, colon), decoded.slice(colon + 1)), credential.from))
    }
  }
  const exitCode = checkExitCode(lines)
  if (options.json) {
    const report = {
      ok: exitCode === ExitCode.ok,
      exitCode,
      command: 'check',
      endpoint: options.endpoint,
      registries,
      identity:
        identity === undefined
          ? null
          : {
              instanceId: identity.instanceId,
              accountId: identity.accountId,
              region: identity.region,
              availabilityZone: identity.availabilityZone ?? null,
            },
      checks: lines.map((l) => ({
        area: l.area,
        verdict: l.verdict,
        message: l.message,
        fix: l.fix ?? null,
        exitCode: l.exitCode ?? null,
      })),
      error: null,
      durationMs: monotonicMs() - started,
    }
    io.stdout(`${JSON.stringify(report)}\n`)
  }
  return exitCode
}
