// `kubelet-credential-provider`, which kubelet runs for each image pull that its
// CredentialProviderConfig routes here (request on stdin, response on stdout). Its settings, which
// kubelet-config.ts shares: flags, then IID_DOCKER_AUTH_* variables, then the unit's settings file.

import { type CliIo, loggerFor } from '../cli/io.js'
import { type Settings, type SettingFlags, resolveSettings } from '../settings/settings.js'
import { type Env, envNames, parseSeconds, variableLabel, withoutSettings, writerOnlySettings } from '../settings/values.js'
import { CliError, ExitCode, usageError } from '../errors.js'
import { readBounded } from '../cli/stdin.js'
import { fetchIdentityFor } from '../imds/client.js'
import { credentialPassword } from '../imds/credential.js'
import type { ImdsControls } from '../imds/retry-policy.js'
import {
  formatGoDuration,
  imageRegistry,
  maxRequestBytes,
  parseGoDuration,
  parseProviderRequest,
  providerResponse,
  type ProviderCredential,
} from '../kubelet/protocol.js'
import { printable } from '../printable.js'
import { loadSettings } from '../settings/settings-file.js'
import { monotonicMs } from '../clock.js'

export const kubeletEnvNames = {
  cacheDuration: 'IID_DOCKER_AUTH_CACHE_DURATION',
} as const

/** The identity does not expire by itself; an hour bounds how long a stopped-and-started instance's old one is reused. */
export const defaultCacheDuration = '1h'
/**
 * The provider's own deadline. Kubelet kills it after a minute and then has nothing, so the
 * deadline stays well inside that; IID_DOCKER_AUTH_TIMEOUT is the boot unit's (longer) deadline
 * and is not used here.
 */
export const providerTimeoutSeconds = 20
const maxProviderTimeoutSeconds = 50
export const commandName = 'kubelet-credential-provider'

export interface KubeletFlags extends Pick<SettingFlags, 'registry' | 'username' | 'signature' | 'stripNewlines' | 'endpoint' | 'timeout'> {
  cacheDuration?: string
}

interface KubeletOptions {
  readonly write: Settings
  readonly cacheDurationMs: number
  /** For the IMDS error's fix: kubelet runs the provider with no flags but its config's args. */
  readonly controls: ImdsControls
}

/** Flags, then the process environment, then the unit's settings file (withSettingsFile's rule). */
export function resolveKubeletOptions(flags: KubeletFlags, processEnv: Env): KubeletOptions {
  const settings = loadSettings(processEnv)
  const env = withoutSettings(settings.env, writerOnlySettings)
  const origin = settings.origin
  const timeoutMs =
    flags.timeout === undefined ? providerTimeoutSeconds * 1000 : parseSeconds(flags.timeout, '--timeout', providerTimeoutSeconds)
  if (timeoutMs > maxProviderTimeoutSeconds * 1000) {
    const fix = `give at most ${maxProviderTimeoutSeconds} seconds; the default is ${providerTimeoutSeconds}`
    throw usageError(`--timeout ${flags.timeout} is too long for kubelet, which kills a provider after 60 s`, fix)
  }
  // Output settings from the file (--json, the log level) are not this mode's: it prints a protocol.
  const write = resolveSettings({ ...flags, timeout: String(timeoutMs / 1000), json: false, quiet: true }, env, origin)
  const durationEnv = env[kubeletEnvNames.cacheDuration]
  const cacheDurationMs =
    flags.cacheDuration !== undefined
      ? parseGoDuration(flags.cacheDuration, '--cache-duration')
      : durationEnv !== undefined && durationEnv.trim() !== ''
        ? parseGoDuration(durationEnv, variableLabel(kubeletEnvNames.cacheDuration, origin))
        : parseGoDuration(defaultCacheDuration, 'default')
  const args = "in the provider's args of kubelet's CredentialProviderConfig"
  const controls = { timeout: `--timeout ${args}`, endpoint: `--endpoint ${args}, or ${envNames.endpoint} in ${settings.file.path}` }
  return { write, cacheDurationMs, controls }
}

/** The request on stdin, bounded as every mode bounds stdin (readBounded). */
async function readRequest(stdin: NodeJS.ReadableStream, maxBytes: number, timeoutMs: number): Promise<string> {
  const { bytes, tooLarge } = await readBounded(
    stdin,
    maxBytes,
    timeoutMs,
    'the caller must write the CredentialProviderRequest and close stdin',
  )
  if (tooLarge)
    throw usageError(
      `the request on stdin is larger than ${maxBytes / 1024} KiB`,
      'kubelet sends a small CredentialProviderRequest; check what runs this command',
    )
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw usageError('the request on stdin is not UTF-8', 'kubelet sends a JSON CredentialProviderRequest')
  }
}

/**
 * One line on stderr, because kubelet shows a provider's stderr only when it fails, inside its
 * own error message.
 */
const reportOneLine = (error: CliError, io: CliIo): void =>
  io.stderr(`${printable(`iid-docker-auth: error: ${error.message}${error.hint === undefined ? '' : ` (fix: ${error.hint})`}`)}\n`)

/**
 * Answers one CredentialProviderRequest. The credential goes only to a configured registry and
 * only to stdout; anything that goes wrong prints nothing on stdout, so kubelet never caches a
 * half answer.
 */
export async function kubeletCredentialProvider(
  flags: KubeletFlags,
  io: CliIo,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<number> {
  const started = monotonicMs()
  try {
    const options = resolveKubeletOptions(flags, io.env)
    const request = parseProviderRequest(await readRequest(stdin, maxRequestBytes, options.write.timeoutMs))
    const registry = imageRegistry(request.image)
    const configured = new Set(options.write.registries.map((r) => r.key))
    let auth: Record<string, ProviderCredential> = {}
    // Docker Hub is never configured (normalizeRegistry refuses it), so its images get nothing.
    if (registry.kind === 'host' && configured.has(registry.host.toLowerCase())) {
      const o = options.write
      if (o.imdsDisabled) {
        const hint = 'unset AWS_EC2_METADATA_DISABLED in the environment kubelet runs providers with'
        throw new CliError(ExitCode.imdsUnavailable, 'AWS_EC2_METADATA_DISABLED=true: not contacting IMDS', { hint })
      }
      const remaining = Math.max(100, o.timeoutMs - (monotonicMs() - started))
      const identity = await fetchIdentityFor(o, loggerFor('quiet', io), remaining, options.controls)
      auth = { [registry.host]: { username: o.username, password: credentialPassword(identity.signature, o.stripNewlines) } }
    }
    io.stdout(`${JSON.stringify(providerResponse(request, formatGoDuration(options.cacheDurationMs), auth))}\n`)
    return ExitCode.ok
  } catch (error) {
    if (!(error instanceof CliError)) throw error
    reportOneLine(error, io)
    return error.exitCode
  }
}
