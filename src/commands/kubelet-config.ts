// `kubelet-config`: prints the CredentialProviderConfig that routes kubelet's pulls to
// `kubelet-credential-provider`, with the same settings that mode resolves.

import type { CliIo } from '../cli/io.js'
import { ExitCode, usageError } from '../errors.js'
import { formatGoDuration } from '../kubelet/protocol.js'
import { providerConfig, renderJson, renderYaml } from '../kubelet/provider-config.js'
import { type KubeletFlags, commandName, resolveKubeletOptions } from './kubelet-credential-provider.js'

export interface KubeletConfigFlags extends KubeletFlags {
  name?: string
  format?: string
  json?: boolean
}

const validName = /^[A-Za-z0-9._-]+$/

/**
 * Prints the CredentialProviderConfig. The registries always go into `args` as well as
 * `matchImages`, so the two cannot drift apart when the environment file changes; so does the
 * cache duration, which is also `defaultCacheDuration`. The other
 * settings go into `args` only where a flag gave them, and otherwise come from the variables and
 * the environment file when kubelet runs the provider.
 */
export function kubeletConfig(flags: KubeletConfigFlags, io: CliIo): number {
  const format = flags.format?.trim().toLowerCase() ?? (flags.json ? 'json' : 'yaml')
  if (format !== 'yaml' && format !== 'json')
    throw usageError(`--format ${JSON.stringify(flags.format)} is not yaml or json`, 'pass --format yaml (default) or --format json')
  if (flags.json && format !== 'json') throw usageError('--json and --format yaml contradict each other', 'pass one of them')
  const name = flags.name ?? 'iid-docker-auth'
  if (!validName.test(name) || name === '.' || name === '..') {
    throw usageError(
      `--name ${JSON.stringify(name)} is not a file name`,
      "give the executable's file name in kubelet's --image-credential-provider-bin-dir, e.g. iid-docker-auth",
    )
  }
  const options = resolveKubeletOptions(flags, io.env)
  const o = options.write
  const args = [commandName, ...o.registries.flatMap((r) => ['--registry', r.key])]
  if (flags.username !== undefined) args.push('--username', o.username)
  if (flags.signature !== undefined) args.push('--signature', o.signature)
  if (flags.stripNewlines) args.push('--strip-newlines')
  if (flags.endpoint !== undefined) args.push('--endpoint', o.endpoint)
  if (flags.timeout !== undefined) args.push('--timeout', String(o.timeoutMs / 1000))
  // Always in args: the provider's answer overrides defaultCacheDuration, so the two must agree.
  const duration = formatGoDuration(options.cacheDurationMs)
  args.push('--cache-duration', duration)
  const config = providerConfig({ name, matchImages: o.registries.map((r) => r.key), defaultCacheDuration: duration, args })
  io.stdout(format === 'json' ? renderJson(config) : renderYaml(config))
  return ExitCode.ok
}
