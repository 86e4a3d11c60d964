// A file-system failure as the operator reads it: what went wrong, in words and errno, and the fix.

import { CliError, ExitCode, errnoOf } from '../errors.js'

const explanations: Record<string, [string, string]> = {
  EACCES: ['permission denied', 'run as root, or check the permissions of the file and its directory'],
  EPERM: [
    'operation not permitted (an immutable or append-only file or directory?)',
    'check `lsattr -d` on the file and its directory for the i and a flags (chattr -i, chattr -a)',
  ],
  EROFS: [
    'the filesystem is read-only',
    'point --config at a writable location, or remount it read-write; in the boot unit, only the directories its ' +
      'ReadWritePaths= names are writable (install --config renders them; docs/boot-unit.md)',
  ],
  ENOSPC: ['no space left on the device', 'free space on that filesystem and run again'],
  EDQUOT: ['disk quota exceeded', 'free space within the quota and run again'],
  EBUSY: [
    'the file is a mount point (a bind-mounted file cannot be replaced atomically)',
    'bind-mount the directory instead of the file, or pass --config with the real file',
  ],
  EXDEV: ['the file and its temporary copy are on different filesystems', 'pass --config with the real path of the file'],
  ENOENT: [
    'a directory on the way to it is missing, or was removed while it was written',
    'check that the path exists and that nothing removes or swaps it while this tool runs',
  ],
  ENOTDIR: ['a component of the path is not a directory', 'check the path given with --config or DOCKER_CONFIG'],
  EIO: ['an I/O error occurred', 'check the disk (dmesg)'],
  ELOOP: ['too many levels of symbolic links on the way to it', 'fix the symlink loop'],
  ENAMETOOLONG: ['the path is too long', 'use a shorter path'],
}

/** What went wrong, for a message ("permission denied (EACCES)"), and how to fix it. */
export function explain(error: unknown): [string, string] {
  const code = errnoOf(error)
  const [what, hint] = (code !== undefined ? explanations[code] : undefined) ?? [code ?? String(error), 'check the path and the filesystem']
  return [`${what}${code !== undefined && !what.startsWith(code) ? ` (${code})` : ''}`, hint]
}

/** A filesystem failure while writing: exit 73 with what went wrong and how to fix it. */
export function cannotWrite(path: string, error: unknown): CliError {
  const [what, hint] = explain(error)
  return new CliError(ExitCode.cannotWrite, `cannot write ${path}: ${what}; the file was not changed`, { hint, cause: error })
}

export const notRegular = (path: string, what: string): CliError =>
  new CliError(ExitCode.configUnusable, `${path} is ${what}, not a regular file; nothing was changed`, {
    hint: `replace what is at ${path} with a regular file, or name another file`,
  })
