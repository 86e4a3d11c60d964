// What a command writes to and reads from: stdout, stderr, the environment, the working directory.
// The real process in a run (program.ts), a capture in tests.

import { type Logger, createLogger } from './log.js'
import type { Env, Verbosity } from './options.js'

export interface CliIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: Env
  /** undefined when the working directory has been deleted: only a relative path needs it. */
  readonly cwd: string | undefined
  /** stderr is the journal stream (prefix lines with their priority). */
  readonly journal: boolean
}

export const loggerFor = (verbosity: Verbosity, io: CliIo): Logger => createLogger(verbosity, io.stderr, io.journal)
