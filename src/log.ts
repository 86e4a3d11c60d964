// Human output: short lines, one per event. Callers never pass secrets (auth, PKCS7, token) here.
// Under systemd's journal stream each line starts with its syslog priority (<3> error, <4> warning,
// <6> info, <7> debug), so journald records the right level. Where the lines go is the caller's.

import { printable } from './printable.js'

export type Verbosity = 'quiet' | 'normal' | 'verbose'

export interface Logger {
  error(message: string): void
  /** The fix for the error just reported; shown whenever errors are. */
  fix(message: string): void
  warn(message: string): void
  info(message: string): void
  debug(message: string): void
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
