// The settings file (the unit's EnvironmentFile=, /etc/default/iid-docker-auth) as the modes that
// run outside the unit read it (check, the credential helper, the kubelet modes): exactly as systemd
// reads it (env-file-syntax.ts), bounded, and under the process environment, so that every mode sees
// the settings the unit sees.

import { CliError, ExitCode } from '../errors.js'
import { readSmallFileSync } from '../fs/small-file.js'
import { type EnvironmentEntry, type IgnoredLine, parseEnvironmentFile } from '../systemd/env-file-syntax.js'
import { environmentFilePath } from '../systemd/names.js'
import { envNames } from './values.js'

/** The unit's settings file; IID_DOCKER_AUTH_ENV_FILE names another (tests, unusual layouts). */
export const environmentFileFor = (env: Readonly<Record<string, string | undefined>>): string =>
  env[envNames.envFile] || environmentFilePath

/** Far above any real settings file; a FIFO, a device or a runaway file must not hang or flood a mode. */
export const maxSettingsFileBytes = 64 * 1024

export interface SettingsFile {
  readonly path: string
  readonly entries: readonly EnvironmentEntry[]
  readonly ignored: readonly IgnoredLine[]
}

const unusableFile = (message: string, hint: string): CliError => new CliError(ExitCode.configUnusable, message, { hint })

/**
 * The settings file as systemd reads it. A missing file is no settings (the unit's
 * `EnvironmentFile=-`); anything else that cannot be read as systemd would is an error naming the
 * file (and the line): never a hang on a FIFO or device, never more than maxSettingsFileBytes.
 */
export function readSettingsFile(path: string): SettingsFile {
  const read = readSmallFileSync(path, maxSettingsFileBytes)
  if ('errno' in read) {
    if (read.errno === 'ENOENT' || read.errno === 'ENOTDIR') return { path, entries: [], ignored: [] }
    throw unusableFile(
      `cannot read the settings file ${path} (${read.errno})`,
      read.errno === 'EACCES' ? `chmod 0644 ${path} (it holds no secret)` : `fix or remove ${path}`,
    )
  }
  if ('problem' in read)
    throw read.problem === 'too large'
      ? unusableFile(
          `the settings file ${path} is larger than ${maxSettingsFileBytes / 1024} KiB`,
          `it holds a few IID_DOCKER_AUTH_* lines; fix ${path}`,
        )
      : unusableFile(`the settings file ${path} is not a regular file`, `make ${path} a regular file, or remove it`)
  const bytes = read.bytes
  const parsed = parseEnvironmentFile(bytes)
  if (parsed.unusable !== undefined)
    throw unusableFile(`${path}:${parsed.unusable.line}: ${parsed.unusable.reason}`, `fix line ${parsed.unusable.line} of ${path}`)
  return { path, entries: parsed.entries, ignored: parsed.ignored }
}

/** The values only (tests, and callers that need no line numbers). */
export const readEnvironmentFile = (path: string = environmentFilePath): Record<string, string> =>
  Object.fromEntries(readSettingsFile(path).entries.map((e) => [e.name, e.value]))

type Environment = Readonly<Record<string, string | undefined>>

/**
 * THE precedence rule, the same for every mode: a variable set in the process environment (even to
 * '') wins over the settings file; flags, applied later by each mode, win over both. `origin` names
 * where a variable came from for messages: its name, or `path:line` in the file.
 */
export function withSettingsFile(env: Environment, file: SettingsFile): { env: Environment; origin: (name: string) => string } {
  const fromFile = new Map(file.entries.map((e) => [e.name, e]))
  const merged: Record<string, string | undefined> = { ...Object.fromEntries(file.entries.map((e) => [e.name, e.value])), ...env }
  return {
    env: merged,
    origin: (name) => {
      const entry = env[name] === undefined ? fromFile.get(name) : undefined
      return entry === undefined ? name : `${file.path}:${entry.line}`
    },
  }
}

/** The settings a mode runs with: the process environment over the unit's settings file. */
export const loadSettings = (env: Environment): { env: Environment; origin: (name: string) => string; file: SettingsFile } => {
  const file = readSettingsFile(environmentFileFor(env))
  return { ...withSettingsFile(env, file), file }
}
