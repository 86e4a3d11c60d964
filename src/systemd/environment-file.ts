// The unit's environment file, /etc/default/iid-docker-auth, as `install` renders it, with a
// checksum that tells later installs whether someone edited it. Reading it: src/settings/settings-file.ts.

import { createHash } from 'node:crypto'
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
