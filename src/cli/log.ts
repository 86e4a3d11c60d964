// Human output: short lines on stderr. Callers never pass secrets (auth, PKCS7, token) here.
// Under systemd, when stderr really is the journal stream, each line starts with its syslog
// priority (<3> error, <4> warning, <6> info, <7> debug) so journald records the right level.
// Control characters in a message are escaped (logLine).

import { fstatSync } from 'node:fs'
import type { Verbosity } from './options.js'
import { printable } from '../printable.js'

export interface Logger {
  error(message: string): void
  /** The fix for the error just reported; shown whenever errors are. */
  fix(message: string): void
  warn(message: string): void
  info(message: string): void
  debug(message: string): void
}

/**
 * Whether stderr is the journal: JOURNAL_STREAM holds "device:inode" of the stream systemd
 * connected, and only a matching stderr counts (a child whose stderr was redirected must not
 * print prefixes into a file or terminal).
 */
export function stderrIsJournal(journalStream: string | undefined, fd = 2): boolean {
  if (journalStream === undefined) return false
  const match = /^(\d+):(\d+)$/.exec(journalStream.trim())
  if (match === null) return false
  try {
    const stat = fstatSync(fd, { bigint: true })
    return stat.dev === BigInt(match[1]!) && stat.ino === BigInt(match[2]!)
  } catch {
    return false
  }
}

/**
 * One line as the logger and `check` print it: messages carry values from IMDS, registries and
 * files, so every control character (a line break too) is escaped here, where no caller can forget.
 */
export const logLine = (priority: number, text: string, journal: boolean): string => `${journal ? `<${priority}>` : ''}${printable(text)}\n`

export function createLogger(verbosity: Verbosity, write: (line: string) => void, journal = false): Logger {
  const line = (priority: number, text: string): void => write(logLine(priority, `iid-docker-auth: ${text}`, journal))
  return {
    error: (m) => line(3, `error: ${m}`),
    fix: (m) => line(3, `fix: ${m}`),
    warn: (m) => {
      if (verbosity !== 'quiet') line(4, `warning: ${m}`)
    },
    info: (m) => {
      if (verbosity !== 'quiet') line(6, m)
    },
    debug: (m) => {
      if (verbosity === 'verbose') line(7, m)
    },
  }
}
