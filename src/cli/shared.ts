// What every command's CLI glue shares: the I/O it writes to, loggers, and the reports of what
// happened to config files. Small on purpose: the boot path (write) loads it.

import { userInfo } from 'node:os'
import { type ConfigLocation, resolveConfigLocations } from '../fs/config-file.js'
import type { ConfigOutcome, ErrorInfo } from '../fs/update.js'
import { exitCodeTable } from '../errors.js'
import { type Logger, createLogger } from './log.js'
import { type Env, type Verbosity, envNames } from './options.js'

export interface CliIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: Env
  readonly cwd: string
  /** stderr is the journal stream (prefix lines with their priority). */
  readonly journal: boolean
}

export const loggerFor = (verbosity: Verbosity, io: CliIo): Logger => createLogger(verbosity, io.stderr, io.journal)

/** Seconds to wait for another run of this tool that holds the lock on a config file. */
export const lockTimeoutMs = (env: Env): number => {
  const value = env['IID_DOCKER_AUTH_LOCK_TIMEOUT']
  const n = value === undefined ? NaN : Number(value)
  return (Number.isFinite(n) && n >= 0 ? n : 30) * 1000
}

export const helpFooter = `
Examples:
  systemd unit (ExecStart=):   iid-docker-auth --registry pierone.example.com --config /root/.docker/config.json
  cloud-init user-data:        npx --yes iid-docker-auth --registry pierone.example.com
  debugging by hand:           npx iid-docker-auth --registry pierone.example.com --dry-run --verbose
  several registries/files:    iid-docker-auth -r a.example.com,b.example.com:5000 -c /root/.docker/config.json -c /var/lib/kubelet/config.json
  boot unit for this machine:  iid-docker-auth install --registry pierone.example.com --now
  before baking an AMI:        iid-docker-auth remove --registry pierone.example.com
  what is wrong (3 a.m.):      iid-docker-auth check --probe

Environment (flags win):
  ${envNames.registries}, ${envNames.config} (comma-separated), ${envNames.username},
  ${envNames.signature}, ${envNames.stripNewlines} (true/false), ${envNames.endpoint}, ${envNames.timeout},
  ${envNames.json} (true/false), ${envNames.verbosity} (quiet/normal/verbose), IID_DOCKER_AUTH_LOCK_TIMEOUT (s, default 30),
  ${envNames.attemptTimeout} (s per IMDS request, default 2);
  AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6, AWS_EC2_METADATA_DISABLED=true, DOCKER_CONFIG.

Exit codes:
${exitCodeTable.map(([code, meaning]) => `  ${String(code).padStart(2)}  ${meaning}`).join('\n')}
`

export function reportError(error: { message: string; hint?: string | undefined }, log: Logger): void {
  log.error(error.message)
  if (error.hint !== undefined) log.fix(error.hint)
}

export const jsonError = (error: ErrorInfo | undefined) => (error === undefined ? null : { exitCode: error.exitCode, message: error.message, hint: error.hint ?? null })

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

/** Human lines for each config file: warnings, errors, what changed; and the --dry-run preview. */
export function reportConfigs(configs: readonly ConfigOutcome[], dryRun: boolean, command: 'write' | 'remove', log: Logger, io: CliIo): void {
  const would = (done: string, planned: string): string => (dryRun ? planned : done)
  for (const config of configs) {
    for (const w of config.warnings) log.warn(`${config.path}: ${w}`)
    if (config.error !== undefined) reportError(config.error, log)
    const c = config.changes
    if (c === undefined) continue
    if (config.action === 'unchanged') {
      log.info(command === 'write' ? `${config.path} already current` : `${config.path} has no entry of this tool to remove`)
    } else if (command === 'remove') {
      log.info(`${would('removed', 'would remove')} ${c.removed.join(', ')} from ${config.path}`)
    } else {
      if (c.removed.length > 0) log.info(`${would('removed', 'would remove')} competing key(s) ${c.removed.map((k) => JSON.stringify(k)).join(', ')} from ${config.path}`)
      const touched = [...c.added, ...c.updated]
      if (touched.length > 0) log.info(`${would('wrote', 'would write')} ${touched.join(', ')} to ${config.path}`)
    }
    if (dryRun && config.preview !== undefined) io.stdout(`# ${config.path} (${config.action === 'would-write' ? 'would be written' : 'unchanged'}; credentials redacted)\n${config.preview}`)
  }
}

export function locationsFor(flags: { config?: string[] }, io: CliIo): ConfigLocation[] {
  const explicit = flags.config?.length ? flags.config : (io.env[envNames.config] ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  return resolveConfigLocations(explicit, io.env, io.cwd, () => userInfo().homedir)
}


/** check's own IMDS deadline: an operator waits for it. */
export const checkTimeoutSeconds = 10
