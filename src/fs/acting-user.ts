// Whose rights a config file is read and written with. Root must never use its power on a path
// that another user controls: whoever owns a directory on the way to the file can point the rest
// of the path anywhere (`~/.docker/config.json -> /etc/docker/daemon.json`). So a file whose path
// passes through a directory of one non-root user is handled with that user's rights (effective
// uid, gid and groups), and the kernel's own permission checks do the rest.

import * as fs from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { CliError, ExitCode, errnoOf } from '../errors.js'

export interface Lookup {
  /** The directory a name was looked up in (a real path: symlinks before it are followed). */
  readonly dir: string
  readonly uid: number
  readonly gid: number
  /** Permission bits of the directory, sticky bit included. */
  readonly mode: number
  /** Owner of the entry found there; undefined when it does not exist (yet). */
  readonly entryUid: number | undefined
}

export interface PathWalk {
  /** The file the path leads to once every symlink is followed; it may not exist. */
  readonly target: string
  /** Every directory a name of the path was looked up in, in order. */
  readonly lookups: readonly Lookup[]
  /** A directory this process may not search: the walk stopped there (see `actorFor`). */
  readonly blockedAt: string | undefined
}

const maxSymlinks = 40

/**
 * Follows `path` one name at a time, as the kernel does, recording each directory it looks into.
 * `root` is an image root: absolute symlink targets stay inside it, and the paths returned are
 * as seen inside it. Never throws for a missing or unreadable part: the write reports that.
 */
export function walkPath(path: string, root = '/'): PathWalk {
  const onHost = (p: string): string => (root === '/' ? p : join(root, p))
  const todo = path.split('/').filter((n) => n !== '' && n !== '.')
  const lookups: Lookup[] = []
  let current = '/'
  let hops = 0
  while (todo.length > 0) {
    const name = todo.shift()!
    if (name === '..') {
      current = current === '/' ? '/' : current.slice(0, current.lastIndexOf('/')) || '/'
      continue
    }
    let dirStat: fs.Stats
    let entry: fs.Stats | undefined
    try {
      dirStat = fs.statSync(onHost(current))
    } catch {
      return { target: join(current, name, ...todo), lookups, blockedAt: undefined }
    }
    try {
      entry = fs.lstatSync(onHost(join(current, name)))
    } catch (error) {
      if (errnoOf(error) === 'EACCES') {
        // Only the directory's owner may search it: their rights finish the walk (withRightsFor).
        lookups.push({ dir: current, uid: dirStat.uid, gid: dirStat.gid, mode: dirStat.mode & 0o7777, entryUid: undefined })
        return { target: join(current, name, ...todo), lookups, blockedAt: current }
      }
      entry = undefined
    }
    lookups.push({ dir: current, uid: dirStat.uid, gid: dirStat.gid, mode: dirStat.mode & 0o7777, entryUid: entry?.uid })
    if (entry === undefined) return { target: join(current, name, ...todo), lookups, blockedAt: undefined }
    if (entry.isSymbolicLink() && hops++ < maxSymlinks) {
      const link = fs.readlinkSync(onHost(join(current, name)))
      todo.unshift(...link.split('/').filter((n) => n !== '' && n !== '.'))
      if (isAbsolute(link)) current = '/'
      continue
    }
    current = join(current, name)
    if (!entry.isDirectory() && todo.length > 0) return { target: join(current, ...todo), lookups, blockedAt: undefined }
  }
  return { target: current, lookups, blockedAt: undefined }
}

export interface Actor {
  readonly uid: number
  readonly gid: number
}

const refuse = (path: string, problem: string, hint: string): CliError => new CliError(ExitCode.cannotWrite, `${path}: ${problem}; the file was not changed`, { hint })

/**
 * Whose rights to use for `path` (pure): the one non-root user who owns a directory on it, or
 * undefined for root's own. Refused (exit 73): directories of two different users on one path, and
 * a directory others may write to (everyone, or a group other than root's and that user's own),
 * unless it is sticky (/tmp) and what the path names in it exists and is root's (nobody else can
 * then swap it; a name another user made there may be a trap). ACLs are not looked at.
 */
export function actorFor(path: string, walk: PathWalk): Actor | undefined {
  const owners = [...new Set(walk.lookups.map((l) => l.uid).filter((uid) => uid !== 0))]
  if (owners.length > 1) {
    throw refuse(path, `the directories on the way to it belong to different users (uid ${owners.join(' and ')})`, 'keep each config file in a directory tree that one user owns')
  }
  const uid = owners[0]
  // The user's group: that of the deepest directory of theirs on the path (a home directory's group).
  const theirs = walk.lookups.filter((l) => l.uid === uid)
  const gid = uid === undefined ? 0 : theirs[theirs.length - 1]!.gid
  for (const l of walk.lookups) {
    // Who else may write here: everyone (o+w), or a group other than root's and the actor's own.
    const everyone = (l.mode & 0o002) !== 0
    const group = (l.mode & 0o020) !== 0 && l.gid !== 0 && l.gid !== gid
    if (!everyone && !group) continue
    const sticky = (l.mode & 0o1000) !== 0
    if (!sticky || l.entryUid !== 0) {
      const who = everyone ? 'every user' : `the members of group ${l.gid}`
      throw refuse(path, `${l.dir} is writable by ${who}, who could redirect the write`, `keep the config file in a directory that only its owner can write (chmod ${everyone ? 'o-w' : 'g-w'} ${l.dir}), or create its directory first`)
    }
  }
  if (uid === undefined) return undefined
  return { uid, gid }
}

/** The account name of a uid, for messages; the number when there is no passwd entry. */
export function userName(uid: number): string {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const fields = line.split(':')
      if (fields[2] === String(uid) && fields[0]) return fields[0]
    }
  } catch {
    // no passwd: the number will do
  }
  return `uid ${uid}`
}

/**
 * Runs `work` with the rights of the user who controls `path` (see actorFor), then returns to root.
 * Only root switches; anyone else already has no more than their own rights. The switch is
 * process-wide, so `work` must be the only thing running: the config files are handled one at a
 * time, after IMDS is done.
 */
export async function withRightsFor<T>(path: string, work: () => Promise<T>): Promise<T> {
  if (process.geteuid?.() !== 0) return work()
  const walk = walkPath(path)
  const actor = actorFor(path, walk)
  if (actor === undefined) return work()
  const name = userName(actor.uid)
  const groups = process.getgroups!()
  const egid = process.getegid!()
  try {
    // The user's groups as the system knows them (NSS); without a passwd entry (or where Node no
    // longer has initgroups), the directory's group alone: never more than the user has.
    const initgroups = (process as { initgroups?: (user: number, extraGroup: number) => void }).initgroups
    try {
      if (initgroups === undefined) throw new Error('no initgroups')
      initgroups(actor.uid, actor.gid)
    } catch {
      process.setgroups!([actor.gid])
    }
    process.setegid!(actor.gid)
    process.seteuid!(actor.uid)
  } catch (error) {
    restore(groups, egid)
    throw new CliError(ExitCode.cannotWrite, `cannot take the rights of ${name}, who owns a directory on the way to ${path}: ${errnoOf(error) ?? String(error)}; the file was not changed`, {
      hint: 'the tool needs CAP_SETUID and CAP_SETGID for a config in another user\'s directory: run it as root, or reinstall the unit (iid-docker-auth install)',
    })
  }
  try {
    // A walk blocked by a directory only that user may search is finished with their rights.
    if (walk.blockedAt !== undefined) {
      const again = actorFor(path, walkPath(path))
      if (again?.uid !== actor.uid) throw refuse(path, 'the directories on the way to it belong to different users', 'keep each config file in a directory tree that one user owns')
    }
    return await work()
  } catch (error) {
    throw error instanceof CliError && error.exitCode === ExitCode.cannotWrite && /permission denied|not permitted/.test(error.message)
      ? new CliError(ExitCode.cannotWrite, `${error.message} (written with the rights of ${name}, who owns a directory on the way to it)`, {
          hint: `a config file in ${name}'s directories is written with ${name}'s rights: make it and its directory ${name}'s (chown ${name} ...), or point --config elsewhere`,
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
