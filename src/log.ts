// Human output: short lines on stderr. Callers never pass secrets (auth, PKCS7, token) here.

import type { Verbosity } from './options.js'

export interface Logger {
  error(message: string): void
  /** The fix for the error just reported; shown whenever errors are. */
  fix(message: string): void
  warn(message: string): void
  info(message: string): void
  debug(message: string): void
}

export function createLogger(verbosity: Verbosity, write: (line: string) => void): Logger {
  const prefix = 'iid-docker-auth: '
  return {
    error: (m) => write(`${prefix}error: ${m}\n`),
    fix: (m) => write(`${prefix}fix: ${m}\n`),
    warn: (m) => {
      if (verbosity !== 'quiet') write(`${prefix}warning: ${m}\n`)
    },
    info: (m) => {
      if (verbosity !== 'quiet') write(`${prefix}${m}\n`)
    },
    debug: (m) => {
      if (verbosity === 'verbose') write(`${prefix}${m}\n`)
    },
  }
}

export const silentLogger: Logger = { error: () => {}, fix: () => {}, warn: () => {}, info: () => {}, debug: () => {} }
