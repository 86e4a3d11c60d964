// The systemd unit as text: the shipped template, rendering it and recognising our own. Pure but for
// reading the template; plan.ts and steps.ts decide and do the rest.

import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { dirname, isAbsolute, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { usageError } from '../errors.js'
import { unitName } from './names.js'

export { defaultUnitDir, environmentFilePath, unitName } from './names.js'
/** The first line of every unit file we write; uninstall removes only files that carry it. */
export const unitHeader = '# Installed by iid-docker-auth install.'

/** Set by the bundler (scripts/build.mjs) to the text of systemd/iid-docker-auth.service. */
declare const __UNIT_TEMPLATE__: string | undefined

/** The unit as shipped in systemd/: built into the bundle, read from the source tree otherwise. */
export function unitTemplate(): string {
  if (typeof __UNIT_TEMPLATE__ === 'string') return __UNIT_TEMPLATE__
  return readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'systemd', unitName), 'utf8')
}

/** Quotes a value for a unit file line or an EnvironmentFile, escaping `%` specifiers. */
export function systemdQuote(value: string, forUnit: boolean): string {
  const escaped = forUnit ? value.replace(/%/g, '%%') : value
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/**
 * An argument on an Exec*= command line. systemd expands `$NAME` and `${NAME}` in the arguments
 * (and `%` specifiers everywhere), so a literal `$` is written `$$`. Not in the executable's own
 * path: systemd never expands that one and takes `$$` there literally.
 */
export function execArgument(value: string): string {
  return systemdQuote(value.split('$').join('$$'), true)
}

function checkPath(path: string, what: string): string {
  if (!isAbsolute(path) || /[\u0000-\u001f\u007f]/.test(path))
    throw usageError(
      `${what} ${JSON.stringify(path)} must be an absolute path without control characters`,
      `give the full path, e.g. /usr/bin/node`,
    )
  return path
}

export interface UnitPaths {
  /** Absolute path of the node binary the unit runs. */
  readonly node: string
  /** Absolute path of the CLI script; undefined when `node` is the single executable, which is the CLI. */
  readonly cli: string | undefined
  /**
   * The config files, each with the directory it is really written in (symlinks followed): that
   * directory becomes writable in the sandbox.
   */
  readonly configFiles: ReadonlyArray<{ readonly path: string; readonly directory: string }>
}

/** Trees the unit must never be given to write in: the system's own files. */
const systemTrees = [
  '/etc',
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/boot',
  '/run',
  '/proc',
  '/sys',
  '/dev',
  '/var/spool',
  '/var/log',
  '/var/mail',
  '/var/lib/docker',
  '/var/lib/containerd',
  '/tmp',
  '/var/tmp',
]
/** Directories that are fine to have below, but not to write in directly. */
const sharedDirectories = new Set(['/', '/home', '/root', '/var', '/var/lib', '/var/cache', '/opt', '/srv', '/mnt', '/media', '/snap'])

/** Why the unit cannot be given `directory` to write a config file in, or undefined if it can. */
export function systemDirectoryProblem(directory: string): string | undefined {
  const tree = systemTrees.find((t) => directory === t || directory.startsWith(`${t}/`))
  if (tree === '/tmp' || tree === '/var/tmp') return `${directory} is under a temporary directory, which the unit's PrivateTmp hides`
  if (tree !== undefined) return `${directory} is a system directory (under ${tree}), which the unit would have to make writable`
  if (sharedDirectories.has(directory)) return `${directory} is a system directory, which the unit would have to make writable`
  if (/^\/home\/[^/]+$/.test(directory)) return `${directory} is a home directory, which the unit would make writable whole (.ssh included)`
  return undefined
}

/** What the environment file tells the tool that the unit around it must allow. */
export interface UnitSettings {
  /** The tool's own IMDS deadline (--timeout); without it the template's limit stands. */
  readonly deadlineSeconds?: number
  /** The IMDS base URL (--endpoint), when one was given. */
  readonly endpoint?: string
}

/** How much longer than the tool's deadline the unit may take: prepare-dirs, the lock, node's start. */
export const startMarginSeconds = 60

/** The unit's TimeoutStartSec: the tool's deadline plus a margin, never below the template's own. */
export function startTimeoutSeconds(template: string, deadlineSeconds: number): number {
  const shipped = Number(/^TimeoutStartSec=([0-9]+)$/m.exec(template)?.[1] ?? 0)
  return Math.max(shipped, Math.ceil(deadlineSeconds) + startMarginSeconds)
}

/**
 * The address the sandbox must let the tool reach for an --endpoint. IPAddressAllow= takes
 * addresses, not names, and nothing guarantees DNS at boot, so a host name is refused.
 */
export function endpointAddress(endpoint: string): string {
  const host = new URL(endpoint).hostname.replace(/^\[(.*)\]$/, '$1')
  if (isIP(host) === 0) {
    throw usageError(
      `--endpoint ${endpoint} names a host, not an address: ` +
        "the unit's sandbox (IPAddressAllow=) allows addresses only, and a boot need not have DNS",
      `give its IP address, e.g. --endpoint http://127.0.0.1:18000`,
    )
  }
  return host
}

/**
 * The shipped unit with ExecStart and ExecStartPre pointing at this node and CLI, and one
 * writable directory per config file. The directories are never created or changed here: the
 * unit's `prepare-dirs` creates a missing one at boot, owned by the owner of its parent.
 */
export function renderUnit(template: string, paths: UnitPaths, settings: UnitSettings = {}): string {
  const node = checkPath(paths.node, 'node binary')
  const cli = paths.cli === undefined ? undefined : checkPath(paths.cli, 'CLI script')
  for (const file of paths.configFiles) {
    checkPath(file.path, 'config file')
    checkPath(file.directory, 'config directory')
    const problem = systemDirectoryProblem(dirname(file.path)) ?? systemDirectoryProblem(file.directory)
    if (problem !== undefined) {
      throw usageError(
        `--config ${file.path}: ${problem}`,
        'keep the config file in a directory of its own, e.g. /root/.docker/config.json or /var/lib/kubelet/config.json',
      )
    }
  }
  const extraAddress = settings.endpoint === undefined ? undefined : endpointAddress(settings.endpoint)
  const startTimeout = startTimeoutSeconds(template, settings.deadlineSeconds ?? 0)
  const dirs = [...new Set(paths.configFiles.map((f) => f.directory))]
  const run = cli === undefined ? systemdQuote(node, true) : `${systemdQuote(node, true)} ${execArgument(cli)}`
  const out: string[] = []
  for (const line of template.split('\n')) {
    if (line.startsWith('ExecStart=')) {
      out.push(`ExecStart=${run} write`)
    } else if (line.startsWith('ExecStartPre=')) {
      out.push(`ExecStartPre=-+${run} prepare-dirs`)
    } else if (line.startsWith('TimeoutStartSec=')) {
      out.push(`TimeoutStartSec=${startTimeout}`)
    } else if (line.startsWith('IPAddressAllow=') && extraAddress !== undefined) {
      const addresses = line.slice('IPAddressAllow='.length).split(' ')
      out.push(`IPAddressAllow=${[...new Set([...addresses, extraAddress])].join(' ')}`)
    } else if (line.startsWith('ReadWritePaths=')) {
      if (!out.some((l) => l.startsWith('ReadWritePaths='))) for (const dir of dirs) out.push(`ReadWritePaths=-${systemdQuote(dir, true)}`)
    } else {
      out.push(line)
    }
  }
  return out.join('\n')
}

export const isOurUnit = (text: string): boolean => text.startsWith(unitHeader)
