// docker-credential-iid: the Docker credential helper protocol (docker/docker-credential-helpers),
// answering `get` with a fresh instance identity for the registries the operator configured.
// Pure parts first (what to answer), the effects (stdin, IMDS, exit) at the end.

import { printable } from '../printable.js'
import { readFileSync } from 'node:fs'
import { type Env, type WriteOptions, checkTimeoutSeconds, envNames, resolveWriteOptions } from '../cli/options.js'
import { createLogger } from '../cli/log.js'
import { normalizeRegistry } from '../config/registry-keys.js'
import { CliError, ExitCode, errnoOf } from '../errors.js'
import { fetchIdentityFor } from '../imds/client.js'
import type { InstanceIdentity } from '../imds/identity.js'
import { environmentFilePath } from '../systemd/names.js'
import { environmentFileFor, readEnvironmentFile } from '../systemd/environment-file.js'
import { version } from '../cli/version.js'

export const helperCommand = 'docker-credential-iid'
/** The exact text clients compare stdout with to go on without credentials (credentials/error.go). */
export const notFoundMessage = 'credentials not found in native keychain'
/** A server string is a host name or URL; anything longer is not one we answer for. */
export const maxServerBytes = 4096
/** An interactive pull waits for this; the boot unit's longer deadline is the unit's own. */
export const helperTimeoutSeconds = checkTimeoutSeconds

export interface HelperSettings {
  readonly registries: readonly string[]
  readonly options: WriteOptions | undefined
  /** Why no settings could be read (the environment file exists but is unreadable). */
  readonly problem: string | undefined
}

/**
 * The settings `get` and `list` use: IID_DOCKER_AUTH_* variables over the environment file. The
 * deadline comes only from the variable (default 10 s): the file's is the boot unit's.
 */
export function helperSettings(env: Env, file: Record<string, string>, fileProblem?: string): HelperSettings {
  const merged: Env = { ...file, ...env }
  const registries = merged[envNames.registries]
  if (registries === undefined || registries.trim() === '') return { registries: [], options: undefined, problem: fileProblem }
  const timeout = env[envNames.timeout]
  const options = resolveWriteOptions({ timeout: timeout !== undefined && timeout.trim() !== '' ? timeout : String(helperTimeoutSeconds) }, merged)
  return { registries: options.registries.map((r) => r.key), options, problem: undefined }
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
export function getAnswer(serverUrl: string, options: Pick<WriteOptions, 'username' | 'stripNewlines'>, identity: InstanceIdentity): string {
  const secret = options.stripNewlines ? identity.signature.replace(/[\r\n]/g, '') : identity.signature
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
  /** stdin, up to `limit` bytes (more means the input is too long). */
  readonly readStdin: (limit: number) => Promise<Buffer>
  readonly fetchIdentity: (options: WriteOptions) => Promise<InstanceIdentity>
  /** The environment file: its values, or why it could not be read. */
  readonly readSettingsFile: () => { values: Record<string, string>; problem: string | undefined }
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
      io.stdout(`${helperCommand} (iid-docker-auth) ${version}\n`)
      return ExitCode.ok
    case 'store':
    case 'erase':
      // docker login/logout of a mapped host calls these: nothing to keep, the identity is fetched on demand.
      await io.readStdin(1024 * 1024)
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
  try {
    const file = io.readSettingsFile()
    settings = helperSettings(io.env, file.values, file.problem)
  } catch (error) {
    if (!(error instanceof CliError)) throw error
    io.stderr(line(`error: ${error.message}${error.hint === undefined ? '' : `; fix: ${error.hint}`}`))
    return error.exitCode
  }
  if (verb === 'list') {
    if (settings.problem !== undefined) {
      io.stderr(line(`error: ${settings.problem}`))
      return ExitCode.configUnusable
    }
    io.stdout(`${listAnswer(settings)}\n`)
    return ExitCode.ok
  }

  const input = await io.readStdin(maxServerBytes + 1)
  const serverUrl = input.length > maxServerBytes ? '' : input.toString('utf8').trim()
  const registry = configuredRegistry(serverUrl, settings.registries)
  if (registry === undefined || settings.options === undefined) {
    // An unreadable settings file would otherwise pass as "not configured": the user must hear why.
    if (settings.problem !== undefined) {
      io.stderr(line(`error: ${settings.problem}`))
      return ExitCode.configUnusable
    }
    io.stdout(`${notFoundMessage}\n`)
    return ExitCode.unexpected // 1: the protocol's "not found"
  }
  const options = settings.options
  if (options.imdsDisabled) {
    io.stderr(line(`error: AWS_EC2_METADATA_DISABLED=true, so no credential for ${registry}; fix: unset AWS_EC2_METADATA_DISABLED`))
    return ExitCode.imdsUnavailable
  }
  try {
    const identity = await io.fetchIdentity(options)
    io.stdout(`${getAnswer(serverUrl, options, identity)}\n`)
    return ExitCode.ok
  } catch (error) {
    if (!(error instanceof CliError)) throw error
    io.stderr(line(`error: no credential for ${registry}: ${error.message}${error.hint === undefined ? '' : `; fix: ${error.hint}`}`))
    return error.exitCode
  }
}

// ---- effects ----

/** Reads stdin up to `limit` bytes; stops early rather than buffer an unbounded input. */
async function readStdin(limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk)
    size += chunk.length
    if (size >= limit) break
  }
  return Buffer.concat(chunks).subarray(0, limit)
}

/** The environment file, or why a file that exists cannot be read (a user's shell, a 0600 file). */
export function readSettingsFile(path: string = environmentFilePath): { values: Record<string, string>; problem: string | undefined } {
  try {
    readFileSync(path)
  } catch (error) {
    const code = errnoOf(error)
    if (code === 'ENOENT' || code === 'ENOTDIR') return { values: {}, problem: undefined }
    return { values: {}, problem: `cannot read ${path} (${code ?? String(error)}), which names the registries; fix: chmod 0644 ${path} (it holds no secret), or set ${envNames.registries}` }
  }
  return { values: readEnvironmentFile(path), problem: undefined }
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
    fetchIdentity: (o) => fetchIdentityFor(o, log),
  })
}
