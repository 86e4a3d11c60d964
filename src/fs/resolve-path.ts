// The one path resolver. Every path this tool reads, writes or removes is walked here one name at a
// time, as the kernel walks it, so that the rights rule (acting-user.ts) sees every directory and
// symlink on the way, and so that an image root (`--root`) confines the walk as chroot(2) does: an
// absolute link target starts again at the root and `..` stops there. See docs/paths.md.

import * as fs from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { CliError, ExitCode, errnoOf } from '../errors.js'
import { notRegular } from './fs-errors.js'

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

export interface FollowedLink {
  /** Where the link is (a real path, as seen inside the root). */
  readonly path: string
  readonly uid: number
}

export interface PathWalk {
  /** The file the path leads to once every symlink is followed, as seen inside the root; it may not exist. */
  readonly target: string
  /** Every directory a name of the path was looked up in, in order. */
  readonly lookups: readonly Lookup[]
  /** Every symlink followed on the way, in order. */
  readonly links: readonly FollowedLink[]
  /** A directory this process may not search: the walk stopped there (see `withRightsFor`). */
  readonly blockedAt: string | undefined
}

/** The kernel's own limit on symlinks followed in one lookup (MAXSYMLINKS). */
const maxSymlinks = 40

/** `path` inside the image root `root`, as a path on this machine. */
export const onHost = (root: string, path: string): string => (root === '/' ? path : join(root, path))

/**
 * Follows `path` inside `root` one name at a time, recording each directory it looks into and each
 * symlink it follows. Never throws for a missing or unreadable part (the caller's open reports
 * that); a symlink loop is refused with 78, as ELOOP would be.
 */
export function walkPath(path: string, root = '/'): PathWalk {
  const todo = path.split('/').filter((n) => n !== '' && n !== '.')
  const lookups: Lookup[] = []
  const links: FollowedLink[] = []
  let current = '/'
  const stop = (blockedAt?: string): PathWalk => ({ target: join(current, ...todo), lookups, links, blockedAt })
  while (todo.length > 0) {
    const name = todo[0]!
    if (name === '..') {
      todo.shift()
      current = current === '/' ? '/' : current.slice(0, current.lastIndexOf('/')) || '/'
      continue
    }
    let dirStat: fs.Stats
    try {
      dirStat = fs.statSync(onHost(root, current))
    } catch {
      return stop()
    }
    const lookup = (entryUid: number | undefined): Lookup => ({
      dir: current,
      uid: dirStat.uid,
      gid: dirStat.gid,
      mode: dirStat.mode & 0o7777,
      entryUid,
    })
    let entry: fs.Stats | undefined
    try {
      entry = fs.lstatSync(onHost(root, join(current, name)))
    } catch (error) {
      // Only the directory's owner may search it: their rights finish the walk (withRightsFor).
      if (errnoOf(error) === 'EACCES') {
        lookups.push(lookup(undefined))
        return stop(current)
      }
    }
    lookups.push(lookup(entry?.uid))
    if (entry === undefined) return stop()
    todo.shift()
    if (entry.isSymbolicLink()) {
      if (links.length === maxSymlinks) {
        throw new CliError(ExitCode.configUnusable, `${path}: too many levels of symbolic links; nothing was changed`, {
          hint: 'fix the symlink loop',
        })
      }
      let link: string
      try {
        link = fs.readlinkSync(onHost(root, join(current, name)))
      } catch {
        // Replaced since the lstat: the path is changing under us; the open, with the rights the
        // rule chose, reports what is there then.
        todo.unshift(name)
        return stop()
      }
      links.push({ path: join(current, name), uid: entry.uid })
      todo.unshift(...link.split('/').filter((n) => n !== '' && n !== '.'))
      if (isAbsolute(link)) current = '/'
      continue
    }
    current = join(current, name)
    if (!entry.isDirectory() && todo.length > 0) return stop()
  }
  return stop()
}

/** The host path a walk of `path` ends at: the file it really names; a dangling link resolves to its target. */
export function targetOf(path: string, walk: PathWalk, root = '/'): string {
  // A /proc link (/dev/stdout -> /proc/self/fd/1 -> "pipe:[123]") names no path, yet the kernel
  // follows it: what is there is a pipe, socket or deleted file, never a config file.
  if (root === '/' && walk.links.some((l) => l.path.startsWith('/proc/')) && !fs.existsSync(walk.target)) {
    const real = fs.statSync(path, { throwIfNoEntry: false })
    if (real !== undefined)
      throw notRegular(path, real.isFIFO() ? 'a pipe' : real.isSocket() ? 'a socket' : 'a file without a path of its own')
  }
  return onHost(root, walk.target)
}
