// What a command writes to and reads from: stdout, stderr, the environment, the working directory.
// The real process in a run (program.ts), a capture in tests.

import { fstatSync } from 'node:fs'
import { type Logger, type Verbosity, createLogger } from '../log.js'
import type { Env } from '../settings/values.js'

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
