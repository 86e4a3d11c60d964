// What happened to each config file, for people (stderr lines, the --dry-run preview) and for
// --json (the objects test/schemas describes). Neither ever holds file content.

import type { ConfigOutcome, ErrorInfo, FilePreview } from '../fs/update-config-file.js'
import type { MergeChanges } from '../config/merge.js'
import type { CliIo } from './io.js'
import type { Logger } from '../log.js'
import { printable } from '../printable.js'

export function reportError(error: { message: string; hint?: string | undefined }, log: Logger): void {
  log.error(error.message)
  if (error.hint !== undefined) log.fix(error.hint)
}

export const jsonError = (error: ErrorInfo | undefined) =>
  error === undefined ? null : { exitCode: error.exitCode, message: error.message, hint: error.hint ?? null }

export type JsonCommand = 'write' | 'check' | 'install' | 'uninstall' | 'remove'

/**
 * The --json object of a run that ended before its command could report (a usage error, a parse
 * error, a bug): the command's own schema, with nothing done and the error.
 */
export function failureReport(
  command: JsonCommand,
  exitCode: number,
  error: { message: string; hint?: string | undefined },
  dryRun: boolean,
  durationMs: number,
  root?: string,
): object {
  const base = { ok: false, exitCode, command }
  const jsonErr = { exitCode, message: error.message, hint: error.hint ?? null }
  switch (command) {
    case 'write':
      return { ...base, dryRun, endpoint: null, registries: [], identity: null, configs: [], error: jsonErr, durationMs }
    case 'check':
      return { ...base, endpoint: null, registries: [], identity: null, checks: [], error: jsonErr, durationMs }
    case 'remove':
      return { ...base, dryRun, configs: [], error: jsonErr }
    case 'install':
    case 'uninstall':
      return { ...base, dryRun, root: root ?? null, steps: [], error: jsonErr }
  }
}

export const jsonConfigs = (configs: readonly ConfigOutcome[]) =>
  configs.map((c) => ({
    path: c.path,
    source: c.source,
    target: c.target ?? null,
    action: c.action,
    added: c.changes?.added ?? [],
    updated: c.changes?.updated ?? [],
    removed: c.changes?.removed ?? [],
    warnings: c.warnings,
    error: jsonError(c.error),
  }))

/** A file with thousands of bad entries must not flood the journal at every boot. */
const maxWarningsPerFile = 10

/**
 * Human lines for each config file: warnings, errors, what changed; and the --dry-run preview, on
 * stdout unless stdout carries the one --json object.
 */
export function reportConfigs(
  configs: readonly ConfigOutcome[],
  dryRun: boolean,
  command: 'write' | 'remove' | 'install',
  log: Logger,
  io: CliIo,
  json: boolean,
): void {
  const would = (done: string, planned: string): string => (dryRun ? planned : done)
  for (const config of configs) {
    for (const w of config.warnings.slice(0, maxWarningsPerFile)) log.warn(`${config.path}: ${w}`)
    const more = config.warnings.length - maxWarningsPerFile
    if (more > 0) log.warn(`${config.path}: ${more} more warning(s) not shown`)
    if (config.error !== undefined) reportError(config.error, log)
    const c = config.changes
    if (c === undefined) continue
    if (config.action === 'unchanged') {
      log.info(command !== 'remove' ? `${config.path} already current` : `${config.path} has no entry of this tool to remove`)
    } else if (command === 'remove') {
      log.info(`${would('removed', 'would remove')} ${c.removed.join(', ')} from ${config.path}`)
    } else {
      if (c.removed.length > 0 && command === 'install')
        log.info(`${would('removed', 'would remove')} ${c.removed.join(', ')} from ${config.path}`)
      else if (c.removed.length > 0)
        log.info(
          `${would('removed', 'would remove')} competing key(s) ${c.removed.map((k) => JSON.stringify(k)).join(', ')} from ${config.path}`,
        )
      const touched = [...c.added, ...c.updated]
      if (touched.length > 0) log.info(`${would('wrote', 'would write')} ${touched.join(', ')} to ${config.path}`)
    }
    if (dryRun && config.preview !== undefined) (json ? io.stderr : io.stdout)(previewLines(config.path, config.action, config.preview, c))
  }
}

/** A key as the preview names it: planners name credHelpers and auths keys so; a bare key is in auths. */
const previewKey = (key: string): string => (/^(?:auths|credHelpers)\[/.test(key) ? key : `auths[${JSON.stringify(key)}]`)

/**
 * The --dry-run preview of one file: the keys that would be added (+), replaced (~) and removed (-),
 * and the mode and owner it would have. Keys only, never a value: nothing to redact.
 */
function previewLines(path: string, action: string, preview: FilePreview, changes: MergeChanges): string {
  const what = action !== 'would-write' ? 'unchanged' : preview.exists ? 'would be written' : 'would be created'
  const mode = preview.mode.toString(8).padStart(4, '0')
  const marked = (mark: string, keys: readonly string[]): string[] => keys.map((k) => `${mark} ${printable(previewKey(k))}`)
  const lines = [...marked('+', changes.added), ...marked('~', changes.updated), ...marked('-', changes.removed)]
  return [`# ${printable(path)} (${what}; mode ${mode}, owner ${preview.uid}:${preview.gid})`, ...lines, ''].join('\n')
}
