// Reading a file safely (bounded, never blocking, never through a FIFO) and replacing it atomically,
// leaving the original byte-identical on any failure: config.json, and install's unit and settings
// file. The operations go through `FileSystem` so that unit tests can inject faults.

import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import * as fsp from 'node:fs/promises'
import { type BigIntStats, type Stats, constants } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { CliError, ExitCode, errnoOf } from '../errors.js'
import { cannotWrite, explain, notRegular } from './fs-errors.js'

/** 12 hex digits for a temp name; O_EXCL|O_NOFOLLOW makes a guessed or planted name fail. */
const uniqueSuffix = (): string => randomBytes(6).toString('hex')

/** The names writeAtomic gives its temp files beside `target`. */
export const tempPattern = (target: string): RegExp =>
  new RegExp(`^\\.${basename(target).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.[0-9a-f]{12}\\.tmp$`)

/**
 * Deletes the temp files that a run killed mid-write left beside `target`; returns their paths.
 * Only where no other run can be writing one now (under the lock, or for install's own files).
 */
export async function removeLeftoverTemps(target: string): Promise<string[]> {
  const dir = dirname(target)
  const pattern = tempPattern(target)
  const removed: string[] = []
  for (const name of await nodeFileSystem.readdir(dir).catch(() => [] as string[])) {
    if (!pattern.test(name)) continue
    if (
      await nodeFileSystem.unlink(join(dir, name)).then(
        () => true,
        () => false,
      )
    )
      removed.push(join(dir, name))
  }
  return removed
}

/** The part of node:fs/promises' FileHandle that the config file code uses. */
export interface FileHandle {
  stat(options: { bigint: true }): Promise<BigIntStats>
  readFile(): Promise<Buffer>
  readFile(encoding: 'utf8'): Promise<string>
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>
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
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  mkdir(path: string, options: { recursive?: boolean; mode: number }): Promise<string | undefined>
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

/** Reads a config file without ever blocking on a FIFO or device, with a size cap. */
export async function readConfigFile(path: string, maxBytes: number, fs: FileSystem = nodeFileSystem): Promise<ConfigFileSnapshot> {
  let handle: FileHandle
  try {
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { bytes: new Uint8Array(0), identity: undefined }
    if (errnoOf(error) === 'ELOOP')
      throw new CliError(ExitCode.configUnusable, `${path}: too many levels of symbolic links; nothing was changed`, {
        hint: 'fix the symlink loop',
      })
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
 * Creates a config file's own directory (0700, as Docker does) if it is missing, and nothing above
 * it: a missing parent is most often a home directory that useradd has yet to make, and one made
 * here would be root's for good. Returns the directory when it was created.
 */
export async function ensureDirectory(dir: string, fs: FileSystem = nodeFileSystem): Promise<string | undefined> {
  try {
    await fs.mkdir(dir, { mode: 0o700 })
    return dir
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return undefined
    if (errnoOf(error) === 'ENOENT') {
      throw new CliError(ExitCode.cannotWrite, `cannot create ${dir}: ${dirname(dir)} does not exist; the file was not changed`, {
        hint: `create ${dirname(dir)} first (a home directory: useradd -m, or mkhomedir_helper), or point --config elsewhere`,
      })
    }
    throw cannotWrite(dir, error)
  }
}

/** Creates `dir` and its missing parents with `mode` (install's unit and settings directories in an image). */
export async function ensureDirectories(dir: string, mode: number): Promise<void> {
  try {
    await nodeFileSystem.mkdir(dir, { recursive: true, mode })
  } catch (error) {
    throw cannotWrite(dir, error)
  }
}

/** Copies the mode and the ACL of `from` to `to` (coreutils cp); false when that failed. */
function copyModeAndAcl(from: string, to: string): boolean {
  try {
    execFileSync('cp', ['--attributes-only', '--preserve=mode,xattr', '--', from, to], { stdio: 'ignore', timeout: 5000 })
    return true
  } catch {
    return false
  }
}

/**
 * Removes a temp file after a failure; where the directory forbids removal (chattr +a) it is
 * emptied instead, so that no copy of the credential stays behind. True when it is gone.
 */
async function removeTemp(temp: string, fs: FileSystem): Promise<boolean> {
  try {
    await fs.unlink(temp)
    return true
  } catch {
    await fs
      .open(temp, constants.O_WRONLY | constants.O_TRUNC | constants.O_NOFOLLOW)
      .then((handle) => handle.close())
      .catch(() => {})
    return false
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
  const dir = dirname(target)
  const temp = join(dir, `.${target.slice(dir.length + 1)}.${uniqueSuffix()}.tmp`)
  let created = false
  try {
    const handle = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
    created = true
    try {
      await handle.writeFile(content, 'utf8')
      // An existing file keeps its owner. A new one belongs to whoever creates it: the owner of its
      // directory, whose rights the write runs with (acting-user.ts). Skipped when already right,
      // so the unit needs no CAP_CHOWN.
      const previous = options.previous
      if (previous !== undefined && (previous.uid !== process.geteuid?.() || previous.gid !== process.getegid?.())) {
        await handle.chown(previous.uid, previous.gid).catch((error: unknown) => {
          throw new CliError(
            ExitCode.cannotWrite,
            `cannot give the new ${target} the owner of the old one (uid ${previous.uid}, gid ${previous.gid}): ` +
              `the rights used may not give a file to that owner or group (${errnoOf(error) ?? String(error)}); the file was not changed`,
            {
              hint: "give the file the owner and group of its directory's user (chown USER:GROUP FILE)",
            },
          )
        })
      }
      if (options.mode === undefined && previous !== undefined && (previous.mode & 0o070) !== 0) {
        // Group bits may be a POSIX ACL's mask (acl(5)): copying them alone would widen the owning
        // group and drop named users. Node cannot read ACLs, so cp copies the mode with the ACL.
        if (!copyModeAndAcl(target, temp)) await handle.chmod(previous.mode & 0o707)
      } else {
        await handle.chmod(options.mode ?? (previous === undefined ? 0o600 : previous.mode & 0o777))
      }
      await handle.sync()
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
    // The new file is in place whatever happens now: a failed directory fsync is a warning, not a failure.
    await fsyncDirectory(dir, fs).catch((error: unknown) =>
      options.onWarning?.(
        `the new content is in place, but syncing ${dir} failed: ${explain(error)[0]}; a power loss now may bring back the old file`,
      ),
    )
    return true
  } catch (error) {
    if (created && !(await removeTemp(temp, fs))) {
      const failure = error instanceof CliError ? error : cannotWrite(target, error)
      throw new CliError(failure.exitCode, `${failure.message}; ${temp} could not be removed and was emptied`, {
        hint: failure.hint,
        cause: error,
      })
    }
    if (error instanceof CliError) throw error
    throw cannotWrite(target, error)
  }
}
