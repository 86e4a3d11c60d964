// Whether a command is on PATH, as a shell would find it by name: the helper must be, for Docker to
// run it. Existence is enough: Docker reports a file it cannot execute in its own words.

import { existsSync } from 'node:fs'
import { join } from 'node:path'

/** Whether `name` exists in one of the directories of `path` (a PATH value; empty entries skipped). */
export const onPath = (name: string, path: string | undefined): boolean =>
  (path ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, name)))
