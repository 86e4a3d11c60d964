// The filesystem side of config.json: where it is, reading it safely, a lock beside it, and an
// atomic replace that leaves the original byte-identical on any failure. The operations go through
// `FileSystem` so that unit tests can inject faults; end-to-end tests use real mounts.

import { randomBytes } from 'node:crypto'
import * as fsp from 'node:fs/promises'
import { type BigIntStats, type Stats, constants } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { CliError, ExitCode, errnoOf } from '../errors.js'

/** 12 hex digits for a temp name; O_EXCL|O_NOFOLLOW makes a guessed or planted name fail. */
const uniqueSuffix = (): string => randomBytes(6).toString('hex')

/** The part of node:fs/promises' FileHandle that the config file code uses. */
export interface FileHandle {
  stat(options: { bigint: true }): Promise<BigIntStats>
  readFile(): Promise<Buffer>
  readFile(encoding: 'utf8'): Promise<string>
  writeFile(data: string, encoding?: 'utf8'): Promise<void>
  chown(uid: number, gid: number): Promise<void>
  chmod(mode: number): Promise<void>
  sync(): Promise<void>
  close(): Promise<void>
}

/** The part of node:fs/promises that the config file code uses; tests pass fs/promises itself, with faults. */
export interface FileSystem {
  open(path: string, flags: number, mode?: number): Promise<FileHandle>
  lstat(path: string): Promise<Stats>
  stat(path: string): Promise<Stats>
  stat(path: string, options: { bigint: true }): Promise<BigIntStats>
  readlink(path: string): Promise<string>
  realpath(path: string): Promise<string>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  mkdir(path: string, options: { recursive: true; mode: number }): Promise<string | undefined>
  readdir(path: string): Promise<string[]>
}

/** node:fs/promises itself; tests pass it wrapped with faults. */
export const nodeFileSystem: FileSystem = fsp

export interface FileIdentity {
  readonly dev: bigint
  readonly ino: bigint
  readonly size: bigint
  readonly mtimeNs: bigint
  readonly ctimeNs: bigint
  readonly mode: number
  readonly uid: number
  readonly gid: number
}

export interface ConfigFileSnapshot {
  /** Empty when the file does not exist. */
  readonly bytes: Uint8Array
  readonly identity: FileIdentity | undefined
}

const identityOf = (s: BigIntStats): FileIdentity => ({
  dev: s.dev,
  ino: s.ino,
  size: s.size,
  mtimeNs: s.mtimeNs,
  ctimeNs: s.ctimeNs,
  mode: Number(s.mode & 0o7777n),
  uid: Number(s.uid),
  gid: Number(s.gid),
})

export const sameFile = (a: FileIdentity | undefined, b: FileIdentity | undefined): boolean =>
  a === undefined || b === undefined
    ? a === b
    : a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs

const explanations: Record<string, [string, string]> = {
  EACCES: ['permission denied', 'run as root, or check the permissions of the file and its directory'],
  EPERM: ['operation not permitted (an immutable file?)', 'check `lsattr` for the immutable flag (chattr -i) and the directory permissions'],
  EROFS: ['the filesystem is read-only', 'point --config at a writable location, or remount it read-write'],
  ENOSPC: ['no space left on the device', 'free space on that filesystem and run again'],
  EDQUOT: ['disk quota exceeded', 'free space within the quota and run again'],
  EBUSY: ['the file is a mount point (a bind-mounted file cannot be replaced atomically)', 'bind-mount the directory instead of the file, or pass --config with the real file'],
  EXDEV: ['the file and its temporary copy are on different filesystems', 'pass --config with the real path of the file'],
  ENOTDIR: ['a component of the path is not a directory', 'check the path given with --config or DOCKER_CONFIG'],
  EIO: ['an I/O error occurred', 'check the disk (dmesg)'],
  ELOOP: ['too many levels of symbolic links on the way to it', 'fix the symlink loop'],
  ENAMETOOLONG: ['the path is too long', 'use a shorter path'],
}

/** What went wrong, for a message ("permission denied (EACCES)"), and how to fix it. */
function explain(error: unknown): [string, string] {
  const code = errnoOf(error)
  const [what, hint] = (code !== undefined ? explanations[code] : undefined) ?? [code ?? String(error), 'check the path and the filesystem']
  return [`${what}${code !== undefined && !what.startsWith(code) ? ` (${code})` : ''}`, hint]
}

/** A filesystem failure while writing: exit 73 with what went wrong and how to fix it. */
export function cannotWrite(path: string, error: unknown): CliError {
  const [what, hint] = explain(error)
  return new CliError(ExitCode.cannotWrite, `cannot write ${path}: ${what}; the file was not changed`, { hint, cause: error })
}

const notRegular = (path: string, what: string): CliError =>
  new CliError(ExitCode.configUnusable, `${path} is ${what}, not a regular file; nothing was changed`, {
    hint: 'point --config (or DOCKER_CONFIG) at a regular file, or remove what is there',
  })

/** Follows symlinks to the file that is really written; a dangling link resolves to its target. */
export async function resolveTarget(path: string, fs: FileSystem = nodeFileSystem): Promise<string> {
  let current = resolve(path)
  for (let hops = 0; hops < 40; hops++) {
    let stats
    try {
      stats = await fs.lstat(current)
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw cannotWrite(path, error)
      // A /proc link (/dev/stdout -> /proc/self/fd/1 -> "pipe:[123]") names no path, yet the
      // kernel follows it: what is there is a pipe, socket or deleted file, never a config file.
      if (hops > 0) {
        const real = await fs.stat(path).catch(() => undefined)
        if (real !== undefined) throw notRegular(path, real.isFIFO() ? 'a pipe' : real.isSocket() ? 'a socket' : 'a file without a path of its own')
      }
      return current
    }
    if (!stats.isSymbolicLink()) return current
    // Relative to the real directory, as the kernel follows it: a `..` in the link climbs from
    // where the link really is, not from the spelling of the path that led there.
    current = resolve(await fs.realpath(dirname(current)), await fs.readlink(current))
  }
  throw new CliError(ExitCode.configUnusable, `${path}: too many levels of symbolic links; nothing was changed`, { hint: 'fix the symlink loop' })
}

/** Reads a config file without ever blocking on a FIFO or device, with a size cap. */
export async function readConfigFile(path: string, maxBytes: number, fs: FileSystem = nodeFileSystem): Promise<ConfigFileSnapshot> {
  let handle
  try {
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { bytes: new Uint8Array(0), identity: undefined }
    if (errnoOf(error) === 'ELOOP') throw new CliError(ExitCode.configUnusable, `${path}: too many levels of symbolic links; nothing was changed`, { hint: 'fix the symlink loop' })
    throw cannotWrite(path, error)
  }
  try {
    const stats = await handle.stat({ bigint: true })
    if (stats.isDirectory()) throw notRegular(path, 'a directory')
    if (stats.isFIFO()) throw notRegular(path, 'a FIFO')
    if (stats.isCharacterDevice() || stats.isBlockDevice()) throw notRegular(path, 'a device')
    if (stats.isSocket()) throw notRegular(path, 'a socket')
    if (!stats.isFile()) throw notRegular(path, 'something else')
    if (stats.size > BigInt(maxBytes)) {
      throw new CliError(ExitCode.configUnusable, `${path} is larger than ${maxBytes / 1024 / 1024} MiB; nothing was changed`, {
        hint: `move it aside (mv ${path} ${path}.big) and run again`,
      })
    }
    const bytes = await handle.readFile()
    return { bytes, identity: identityOf(stats) }
  } catch (error) {
    if (error instanceof CliError) throw error
    throw cannotWrite(path, error)
  } finally {
    await handle.close()
  }
}

/** Reads the identity of whatever is at `path` now (undefined when absent). */
export async function currentIdentity(path: string, fs: FileSystem = nodeFileSystem): Promise<FileIdentity | undefined> {
  try {
    return identityOf(await fs.stat(path, { bigint: true }))
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined
    throw error
  }
}

/**
 * Creates the directory (by default 0700, as Docker does) if it is missing; returns the first
 * directory it created. An existing directory is never changed.
 */
export async function ensureDirectory(dir: string, mode = 0o700, fs: FileSystem = nodeFileSystem): Promise<string | undefined> {
  try {
    return await fs.mkdir(dir, { recursive: true, mode })
  } catch (error) {
    throw cannotWrite(dir, error)
  }
}

async function fsyncDirectory(dir: string, fs: FileSystem): Promise<void> {
  const handle = await fs.open(dir, constants.O_RDONLY | constants.O_DIRECTORY)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export interface AtomicWriteOptions {
  /** The file as it was read; its mode and owner carry over. */
  readonly previous: FileIdentity | undefined
  /** A fixed mode for the result; by default an existing file keeps its own and a new one gets 0600. */
  readonly mode?: number
  /** Called just before the rename; false means someone changed the file: abandon and re-merge. */
  readonly stillCurrent: () => Promise<boolean>
  readonly fs?: FileSystem
  /** Test hook: called after each phase ('temp-created', 'written', 'synced', 'renamed'). */
  readonly onPhase?: (phase: string) => void
  /** Told what went wrong after the new file was already in place (the write still succeeded). */
  readonly onWarning?: (message: string) => void
}

/**
 * Replaces `target` with `content`: O_EXCL|O_NOFOLLOW temp file beside it, 0600 from the first byte,
 * full write, owner and mode of the previous file (0600 for a new one), fsync, rename, fsync of the
 * directory. The temp file is removed on every failure. Returns false when `stillCurrent` said no.
 */
export async function writeAtomic(target: string, content: string, options: AtomicWriteOptions): Promise<boolean> {
  const fs = options.fs ?? nodeFileSystem
  const phase = options.onPhase ?? (() => {})
  const dir = dirname(target)
  const temp = join(dir, `.${target.slice(dir.length + 1)}.${uniqueSuffix()}.tmp`)
  let created = false
  try {
    const handle = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
    created = true
    phase('temp-created')
    try {
      await handle.writeFile(content, 'utf8')
      phase('written')
      // An existing file keeps its owner. A new one belongs to whoever creates it: the owner of its
      // directory, whose rights the write runs with (acting-user.ts). Skipped when already right,
      // so the unit needs no CAP_CHOWN.
      const previous = options.previous
      if (previous !== undefined && (previous.uid !== process.geteuid?.() || previous.gid !== process.getegid?.())) await handle.chown(previous.uid, previous.gid)
      await handle.chmod(options.mode ?? (options.previous === undefined ? 0o600 : options.previous.mode & 0o777))
      await handle.sync()
      phase('synced')
    } finally {
      await handle.close()
    }
    if (!(await options.stillCurrent())) {
      await fs.unlink(temp)
      created = false
      return false
    }
    await fs.rename(temp, target)
    created = false
    phase('renamed')
    // The new file is in place whatever happens now: a failed directory fsync is a warning, not a failure.
    await fsyncDirectory(dir, fs).catch((error: unknown) =>
      options.onWarning?.(`the new content is in place, but syncing ${dir} failed: ${explain(error)[0]}; a power loss now may bring back the old file`),
    )
    return true
  } catch (error) {
    if (created) await fs.unlink(temp).catch(() => {})
    if (error instanceof CliError) throw error
    throw cannotWrite(target, error)
  }
}
