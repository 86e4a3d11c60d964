// docker-credential-iid: the Docker credential helper protocol (docker/docker-credential-helpers),
// answering `get` with a fresh instance identity for the registries the operator configured.
// Pure parts first (what to answer), the effects (stdin, IMDS, exit) at the end.

import { printable } from '../printable.js'
import { type Settings, resolveSettings } from '../settings/settings.js'
import {
  type Env,
  type VariableOrigin,
  checkTimeoutSeconds,
  envNames,
  processOrigin,
  withoutSettings,
  writerOnlySettings,
} from '../settings/values.js'
import { readBounded } from '../cli/stdin.js'
import { createLogger } from '../log.js'
import { normalizeRegistry } from '../config/registry-keys.js'
import { CliError, ExitCode } from '../errors.js'
import { fetchIdentityFor } from '../imds/client.js'
import { credentialPassword } from '../imds/credential.js'
import type { InstanceIdentity } from '../imds/identity.js'
import type { ImdsControls } from '../imds/retry-policy.js'
import { type SettingsFile, environmentFileFor, readSettingsFile, withSettingsFile } from '../settings/settings-file.js'
import { versionLine } from '../cli/version.js'

export const helperCommand = 'docker-credential-iid'
/** The exact text clients compare stdout with to go on without credentials (credentials/error.go). */
export const notFoundMessage = 'credentials not found in native keychain'
/** A server string is a host name or URL; anything longer is not one we answer for. */
export const maxServerBytes = 4096
/** An interactive pull waits for this; the boot unit's longer deadline is the unit's own. */
export const helperTimeoutSeconds = checkTimeoutSeconds
/**
 * Docker writes the server string and closes stdin at once; a caller that keeps it open must not
 * hold a pull for the whole deadline.
 */
export const helperStdinSeconds = 2

export interface HelperSettings {
  readonly registries: readonly string[]
  readonly options: Settings | undefined
}

/**
 * The settings `get` and `list` use, from the environment as withSettingsFile merged it. The
 * deadline comes only from the process environment (default 10 s): the file's is the boot unit's.
 * Config files, output and lock settings are not the helper's, so they are dropped and never fail it.
 */
export function helperSettings(env: Env, origin: VariableOrigin = processOrigin): HelperSettings {
  const registries = env[envNames.registries]
  if (registries === undefined || registries.trim() === '') return { registries: [], options: undefined }
  const timeout = origin(envNames.timeout) === envNames.timeout ? env[envNames.timeout] : undefined
  const used = withoutSettings(env, [...writerOnlySettings, envNames.timeout])
  const deadline = timeout !== undefined && timeout.trim() !== '' ? timeout : String(helperTimeoutSeconds)
  const options = resolveSettings({ timeout: deadline, json: false, quiet: true }, used, origin)
  return { registries: options.registries.map((r) => r.key), options }
}

/** The registry key a server string names, if it is one we were configured for. */
export function configuredRegistry(serverUrl: string, registries: readonly string[]): string | undefined {
  try {
    const { key } = normalizeRegistry(serverUrl)
    return registries.includes(key) ? key : undefined
  } catch {
    // Docker Hub, or not a host at all: never ours.
    return undefined
  }
}

/** `get`'s answer: the password exactly as `write` would put it into the auth value. */
export function getAnswer(serverUrl: string, options: Pick<Settings, 'username' | 'stripNewlines'>, identity: InstanceIdentity): string {
  const secret = credentialPassword(identity.signature, options.stripNewlines)
  return JSON.stringify({ ServerURL: serverUrl, Username: options.username, Secret: secret })
}

export function listAnswer(settings: HelperSettings): string {
  const username = settings.options?.username
  return JSON.stringify(Object.fromEntries(settings.registries.map((r) => [r, username])))
}

export interface HelperIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: Env
  /** stdin, up to `limit` bytes (more means the input is too long); a CliError past its deadline. */
  readonly readStdin: (limit: number) => Promise<Buffer>
  /** `controls` name the settings that move the endpoint and the deadline, for the error's fix. */
  readonly fetchIdentity: (options: Settings, controls: ImdsControls) => Promise<InstanceIdentity>
  /** The unit's settings file as systemd reads it; a CliError naming it when it cannot be read. */
  readonly readSettingsFile: () => SettingsFile
}

const usage = `usage: ${helperCommand} get|store|erase|list|version (a Docker credential helper; see iid-docker-auth --help)`
/** One line on stderr, which Docker shows the user: outside text escaped like every log line. */
const line = (text: string): string => `${printable(`${helperCommand}: ${text}`)}\n`

/** Runs one verb; returns the exit code. Only the protocol answer goes to stdout. */
export async function runHelper(args: readonly string[], io: HelperIo): Promise<number> {
  const verb = args[0]
  if (args.length !== 1) {
    io.stderr(line(usage))
    return ExitCode.usage
  }
  switch (verb) {
    case 'version':
    case '--version':
      io.stdout(`${helperCommand} (iid-docker-auth) ${versionLine}\n`)
      return ExitCode.ok
    case 'store':
    case 'erase':
      // docker login/logout of a mapped host calls these: nothing to keep, the identity is fetched on demand.
      try {
        await io.readStdin(1024 * 1024)
      } catch (error) {
        return reportError(error, io)
      }
      io.stderr(line(`${verb}: nothing to do; the credential comes from the instance identity on each get`))
      return ExitCode.ok
    case 'list':
    case 'get':
      break
    default:
      io.stderr(line(`unknown verb ${JSON.stringify(verb)}; ${usage}`))
      return ExitCode.usage
  }

  let settings: HelperSettings
  let input: Buffer | undefined
  let controls: ImdsControls
  try {
    // An unreadable settings file is an error, never a silent "not configured".
    const file = io.readSettingsFile()
    const { env, origin } = withSettingsFile(io.env, file)
    settings = helperSettings(env, origin)
    // The helper takes no flags: its deadline is the process environment's, its endpoint also the file's.
    controls = {
      timeout: `${envNames.timeout} in the environment Docker runs ${helperCommand} with`,
      endpoint: `${envNames.endpoint} in ${file.path}`,
    }
    if (verb === 'get') input = await io.readStdin(maxServerBytes + 1)
  } catch (error) {
    return reportError(error, io)
  }
  if (verb === 'list') {
    io.stdout(`${listAnswer(settings)}\n`)
    return ExitCode.ok
  }

  const serverUrl = input === undefined || input.length > maxServerBytes ? '' : input.toString('utf8').trim()
  const registry = configuredRegistry(serverUrl, settings.registries)
  if (registry === undefined || settings.options === undefined) {
    io.stdout(`${notFoundMessage}\n`)
    return ExitCode.credentialsNotFound
  }
  const options = settings.options
  if (options.imdsDisabled) {
    io.stderr(line(`error: AWS_EC2_METADATA_DISABLED=true, so no credential for ${registry}; fix: unset AWS_EC2_METADATA_DISABLED`))
    return ExitCode.imdsUnavailable
  }
  try {
    const identity = await io.fetchIdentity(options, controls)
    io.stdout(`${getAnswer(serverUrl, options, identity)}\n`)
    return ExitCode.ok
  } catch (error) {
    if (!(error instanceof CliError)) throw error
    io.stderr(line(`error: no credential for ${registry}: ${error.message}${error.hint === undefined ? '' : `; fix: ${error.hint}`}`))
    return error.exitCode
  }
}

/** A CliError as the one line Docker shows; anything else is a bug and propagates. */
function reportError(error: unknown, io: HelperIo): number {
  if (!(error instanceof CliError)) throw error
  io.stderr(line(`error: ${error.message}${error.hint === undefined ? '' : `; fix: ${error.hint}`}`))
  return error.exitCode
}

// ---- effects ----

/** stdin up to `limit` bytes (the first `limit` of a longer one), bounded in time as the kubelet mode's. */
async function readStdin(limit: number): Promise<Buffer> {
  return (
    await readBounded(
      process.stdin,
      limit,
      helperStdinSeconds * 1000,
      'the caller must write the server URL and close stdin, as Docker does',
    )
  ).bytes
}

/** The process entry: argv after the script, the real streams. */
export async function helperMain(args: readonly string[]): Promise<number> {
  const env = process.env
  const log = createLogger('quiet', (text) => process.stderr.write(text))
  return runHelper(args, {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env,
    readStdin,
    readSettingsFile: () => readSettingsFile(environmentFileFor(env)),
    fetchIdentity: (o, controls) => fetchIdentityFor(o, log, o.timeoutMs, controls),
  })
}
