// Whose rights a config file is read and written with. Root must never use its power on a path
// that another user controls: whoever owns a directory on the way to the file can point the rest
// of the path anywhere (`~/.docker/config.json -> /etc/docker/daemon.json`). So a file whose path
// passes through a directory of one non-root user is handled with that user's rights (effective
// uid, gid and groups), and the kernel's own permission checks do the rest. The files only root may
// control (install's unit and settings file, anything under --root) are judged by the same rule.

import * as fs from 'node:fs'
import { join } from 'node:path'
import { CliError, ExitCode, errnoOf } from '../errors.js'
import { type PathWalk, onHost, targetOf, walkPath } from './resolve-path.js'
import { passwdLines } from './passwd.js'

export interface Actor {
  readonly uid: number
}

const refuse = (path: string, problem: string, hint: string): CliError =>
  new CliError(ExitCode.cannotWrite, `${path}: ${problem}; the file was not changed`, { hint })

/**
 * Whose rights to use for `path` (pure): the one non-root user who owns a directory on it, or
 * undefined for root's own; their groups are those of their passwd entry (withRightsFor). Refused
 * (exit 73), as docs/paths.md states the rule:
 * - directories of two different users on one path;
 * - a symlink owned by anyone but root and that user (the kernel's protected_symlinks rule, on
 *   every directory: whoever owns a link chooses where the write goes);
 * - a directory anyone but its owner may write to: o+w, or g+w whatever the group, since with a
 *   POSIX ACL the group bits are the mask, the most any named user or group gets (acl(5)). A sticky
 *   directory (/tmp) is allowed when what the path names in it exists and is root's.
 */
export function actorFor(path: string, walk: PathWalk): Actor | undefined {
  const owners = [...new Set(walk.lookups.map((l) => l.uid).filter((uid) => uid !== 0))]
  if (owners.length > 1) {
    throw refuse(
      path,
      `the directories on the way to it belong to different users (uid ${owners.join(' and ')})`,
      'keep each config file in a directory tree that one user owns',
    )
  }
  const uid = owners[0]
  for (const link of walk.links) {
    if (link.uid !== 0 && link.uid !== uid) {
      throw refuse(
        path,
        `the symlink ${link.path} on the way to it belongs to ${userName(link.uid)}, who could point it anywhere`,
        `replace it with a link owned by root${uid === undefined ? '' : ` or ${userName(uid)}`} (chown -h), or name the real file`,
      )
    }
  }
  for (const l of walk.lookups) {
    const everyone = (l.mode & 0o002) !== 0
    if (!everyone && (l.mode & 0o020) === 0) continue
    if ((l.mode & 0o1000) === 0 || l.entryUid !== 0) {
      const who = everyone ? 'every user' : `its group (gid ${l.gid}) or the users its ACL names`
      throw refuse(
        path,
        `${l.dir} is writable by ${who}, who could redirect the write`,
        `keep the config file in a directory that only its owner can write (chmod ${everyone ? 'o-w' : 'g-w'} ${l.dir}; ` +
          `with an ACL, setfacl -m m::rx ${l.dir}), or create its directory first`,
      )
    }
  }
  return uid === undefined ? undefined : { uid }
}

/** Refuses (73) a walk with a user on it: they could swap a directory or link while root writes there. */
function requireRootOnly(path: string, walk: PathWalk, root = '/'): void {
  const actor = actorFor(onHost(root, path), walk)
  if (actor === undefined) return
  const dir = onHost(root, walk.lookups.find((l) => l.uid === actor.uid)?.dir ?? path)
  throw refuse(
    path,
    `${dir} belongs to ${userName(actor.uid)}, who could swap what root writes there`,
    `make the way root's (chown root: ${dir}), or run as ${userName(actor.uid)}`,
  )
}

/**
 * Resolves `path` inside `root` (resolve-path.ts) on a way only root may change, for what root
 * writes under --root and for the files a root unit loads: every directory and link from `/` to the
 * root and from the root to the file is judged, so none can be swapped between this check and the write.
 */
export function resolveRootOnly(path: string, root = '/', forRemoval = false): string {
  const cut = path.replace(/\/+$/, '').lastIndexOf('/')
  const walked = forRemoval ? path.slice(0, cut) || '/' : path
  const walk = walkPath(walked, root)
  if (process.geteuid?.() === 0) {
    if (root !== '/') requireRootOnly(root, walkPath(root))
    // For a removal, the full walk: only it looks into the directory the name is removed from.
    requireRootOnly(path, forRemoval ? walkPath(path, root) : walk, root)
  }
  const target = targetOf(walked, walk, root)
  return forRemoval ? join(target, path.slice(cut + 1)) : target
}

/** A uid's passwd entry (name and primary group), if it has one. */
function account(uid: number): { name: string; gid: number } | undefined {
  try {
    const line = passwdLines(fs.readFileSync('/etc/passwd', 'utf8')).find(
      (l) => l.uid === String(uid) && l.name && /^\d+$/.test(l.gid ?? ''),
    )
    if (line !== undefined) return { name: line.name, gid: Number(line.gid) }
  } catch {
    // no passwd: the caller falls back
  }
  return undefined
}

/** The account name of a uid, for messages; the number when there is no passwd entry. */
export const userName = (uid: number): string => account(uid)?.name ?? `uid ${uid}`

/** The kernel's "nobody" group (overflowgid): the group of a user with no passwd entry. */
function overflowGid(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/kernel/overflowgid', 'utf8').trim()) || 65534
  } catch {
    return 65534
  }
}

/**
 * Runs `work` on the file `path` resolves to (resolve-path.ts), with the rights of the user who
 * controls `path` (see actorFor), then returns to root.
 * Only root switches; anyone else already has no more than their own rights. The switch is
 * process-wide, so `work` must be the only thing running: the config files are handled one at a
 * time, after IMDS is done.
 */
export async function withRightsFor<T>(path: string, work: (target: string) => Promise<T>): Promise<T> {
  const walk = walkPath(path)
  if (process.geteuid?.() !== 0) return work(targetOf(path, walk))
  const actor = actorFor(path, walk)
  if (actor === undefined) return work(targetOf(path, walk))
  // The user's own groups, as login gives them: never a directory's group, which may be root's.
  const entry = account(actor.uid)
  const name = entry?.name ?? `uid ${actor.uid}`
  const gid = entry?.gid ?? overflowGid()
  const groups = process.getgroups!()
  const egid = process.getegid!()
  try {
    const initgroups = (process as { initgroups?: (user: string, extraGroup: number) => void }).initgroups
    if (entry !== undefined && initgroups !== undefined) initgroups(entry.name, gid)
    else process.setgroups!([gid])
    process.setegid!(gid)
    process.seteuid!(actor.uid)
  } catch (error) {
    // Node refuses every switch, back to root included, when io_uring may be on: nothing changed then.
    const ioUring = errnoOf(error) === 'ERR_INVALID_STATE'
    if (!ioUring) restore(groups, egid)
    const why = ioUring ? 'Node refuses to switch users while io_uring may be enabled (UV_USE_IO_URING)' : (errnoOf(error) ?? String(error))
    const what = `cannot take the rights of ${name}, who owns a directory on the way to ${path}: ${why}; the file was not changed`
    throw new CliError(ExitCode.cannotWrite, what, {
      hint: ioUring
        ? 'unset UV_USE_IO_URING in the environment this tool runs in (the unit sets UV_USE_IO_URING=0)'
        : "the tool needs CAP_SETUID and CAP_SETGID for a config in another user's directory: " +
          'run it as root, or reinstall the unit (iid-docker-auth install)',
    })
  }
  try {
    // A walk blocked by a directory only that user may search is finished with their rights.
    let finished = walk
    if (walk.blockedAt !== undefined) {
      finished = walkPath(path)
      if (actorFor(path, finished)?.uid !== actor.uid)
        throw refuse(
          path,
          'the directories on the way to it belong to different users',
          'keep each config file in a directory tree that one user owns',
        )
    }
    return await work(targetOf(path, finished))
  } catch (error) {
    throw error instanceof CliError && error.exitCode === ExitCode.cannotWrite && /permission denied|not permitted/.test(error.message)
      ? new CliError(ExitCode.cannotWrite, `${error.message} (written with the rights of ${name}, who owns a directory on the way to it)`, {
          hint:
            `a config file in ${name}'s directories is written with ${name}'s rights: ` +
            `make it and its directory ${name}'s (chown ${name} ...), or point --config elsewhere`,
          cause: error,
        })
      : error
  } finally {
    restore(groups, egid)
  }
}

function restore(groups: number[], egid: number): void {
  process.seteuid!(0)
  process.setegid!(egid)
  process.setgroups!(groups)
}
