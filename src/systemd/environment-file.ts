// The unit's environment file, /etc/default/iid-docker-auth: `install` renders it, `check` reads it,
// both here so the quoting each side uses is one rule.

import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { usageError } from '../errors.js'
import { environmentFilePath, unitName } from './names.js'
import { systemdQuote } from './unit.js'

const checksumPrefix = '# iid-docker-auth-sha256: '


const checksum = (body: string): string => createHash('sha256').update(body).digest('hex')

/** The environment file for the unit, with a checksum so that later runs can tell if it was edited. */
export function renderEnvironmentFile(settings: ReadonlyArray<readonly [string, string]>): string {
  const body = [
    `# ${environmentFilePath}: settings for ${unitName}, as IID_DOCKER_AUTH_* variables (see iid-docker-auth --help).`,
    '# Written by `iid-docker-auth install`. Edit freely: once edited, install overwrites it only with --force.',
    ...settings.map(([name, value]) => {
      if (/[\n\r\u0000]/.test(value)) throw usageError(`the value for ${name} contains a line break`, 'remove it')
      return `${name}=${systemdQuote(value, false)}`
    }),
    '',
  ].join('\n')
  return `${body}${checksumPrefix}${checksum(body)}\n`
}

/** Whether a file is one we wrote and nobody changed since (its checksum still matches). */
export function isUneditedEnvironmentFile(text: string): boolean {
  const at = text.lastIndexOf(checksumPrefix)
  if (at < 0) return false
  const recorded = text.slice(at + checksumPrefix.length).trim()
  return text.endsWith('\n') && recorded === checksum(text.slice(0, at))
}

/** The unit's settings file; IID_DOCKER_AUTH_ENV_FILE names another (tests, unusual layouts). */
export const environmentFileFor = (env: Readonly<Record<string, string | undefined>>): string => env['IID_DOCKER_AUTH_ENV_FILE'] || environmentFilePath

/** A value as systemd reads it from an EnvironmentFile line: single quotes, or double quotes with \\ and \" escapes. */
function unquote(value: string): string {
  // Single quotes too, as systemd reads them: no escapes inside.
  if (value.startsWith("'") && value.endsWith("'") && value.length >= 2) return value.slice(1, -1)
  if (!(value.startsWith('"') && value.endsWith('"') && value.length >= 2)) return value
  return value.slice(1, -1).replace(/\\(["\\])/g, '$1')
}

/** Settings from the unit's environment file, for a bare `check` on an instance. */
export function readEnvironmentFile(path = environmentFilePath): Record<string, string> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return {}
  }
  const values: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line)
    if (match === null) continue
    values[match[1]!] = unquote(match[2]!.trim())
  }
  return values
}
