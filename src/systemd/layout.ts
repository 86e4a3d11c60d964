// Where install's files are inside a root (this machine's, or an image's given with --root) and what
// is there now. Every path here follows the path-safety rules of docs/paths.md.

import { lstatSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { CliError, ExitCode } from '../errors.js'
import { resolveRootOnly, userName } from '../fs/acting-user.js'
import { readConfigFile } from '../fs/config-file.js'
import { defaultUnitDir, environmentFilePath, packageUnitPath, unitName } from './names.js'
import { rootHome } from '../fs/passwd.js'

export interface Layout {
  /** Alternate root (an image being built), or undefined for this machine. */
  readonly root: string | undefined
  /** Unit directory as seen inside the root. */
  readonly unitDir: string
}

export const defaultLayout = (root: string | undefined, unitDir: string | undefined): Layout => ({
  root,
  unitDir: unitDir ?? defaultUnitDir,
})

export interface InstalledState {
  readonly unit: string | undefined
  readonly environment: string | undefined
  /** Under --root: the unit's links in .wants directories that exist now. */
  readonly links?: readonly string[]
  /** Whether the deb or rpm package's unit is there: then the package is in charge of the unit. */
  readonly packageUnit?: boolean
}

/**
 * Where `path` inside the layout's root really is on this machine: never outside the root, and on a
 * way only root may change, since a unit is loaded as root (docs/paths.md).
 */
export const hostPath = (layout: Layout, path: string): string => resolveRootOnly(path, layout.root ?? '/')
export const unitPath = (layout: Layout): string => hostPath(layout, join(layout.unitDir, unitName))
export const environmentPath = (layout: Layout): string => hostPath(layout, environmentFilePath)
/** The same, but a symlink at the last name is what gets removed, not what it points to. */
export const removalPath = (layout: Layout, path: string): string => resolveRootOnly(path, layout.root ?? '/', true)

/**
 * A file that a root unit loads, if present. One that is not root's alone (another owner, or
 * writable by others) could set NODE_OPTIONS for root: refused unless --force, which replaces it.
 */
async function readIfPresent(path: string, force: boolean): Promise<string | undefined> {
  const snapshot = await readConfigFile(path, 1024 * 1024)
  const identity = snapshot.identity
  if (identity === undefined) return undefined
  if (process.geteuid?.() === 0 && (identity.uid !== 0 || (identity.mode & 0o022) !== 0)) {
    if (force) return ''
    const mode = identity.mode.toString(8).padStart(4, '0')
    throw new CliError(
      ExitCode.cannotWrite,
      `${path} belongs to ${userName(identity.uid)} with mode ${mode}, yet a root unit loads it; nothing was changed`,
      {
        hint: 'check what is in it, then pass --force to replace it with a root-owned copy',
      },
    )
  }
  return Buffer.from(snapshot.bytes).toString('utf8')
}

export async function readInstalledState(layout: Layout, force: boolean, template = ''): Promise<InstalledState> {
  const links =
    layout.root === undefined
      ? []
      : wantsLinks(layout, template).filter((path) => lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink())
  const unitLink = removalPath(layout, join(layout.unitDir, unitName))
  if (lstatSync(unitLink, { throwIfNoEntry: false })?.isSymbolicLink() && readlinkSync(unitLink) === '/dev/null')
    throw new CliError(ExitCode.usage, `${unitName} is masked (${unitLink} links to /dev/null); nothing was changed`, {
      hint:
        `${layout.root === undefined ? `systemctl unmask ${unitName}` : `rm ${unitLink}`} if the mask is not wanted ` +
        '(a removed .deb leaves it until dpkg --purge iid-docker-auth)',
    })
  return {
    unit: await readIfPresent(unitPath(layout), force),
    environment: await readIfPresent(environmentPath(layout), force),
    links,
    packageUnit: lstatSync(hostPath(layout, packageUnitPath), { throwIfNoEntry: false }) !== undefined,
  }
}

/**
 * The home of uid 0 in the image's /etc/passwd (read as any file from outside: bounded, never
 * blocking); /root when there is none.
 */
export async function imageRootHome(layout: Layout): Promise<string> {
  const snapshot = await readConfigFile(hostPath(layout, '/etc/passwd'), 16 * 1024 * 1024)
  return rootHome(snapshot.identity === undefined ? '' : Buffer.from(snapshot.bytes).toString('utf8'))
}

/** The targets the unit's [Install] section names (WantedBy=). */
const wantedBy = (template: string): string[] => /^WantedBy=(.*)$/m.exec(template)?.[1]?.trim().split(/\s+/) ?? []

/**
 * Where `systemctl enable` puts the unit's links in an image: <target>.wants/ under /etc/systemd/system,
 * whatever the unit directory. Made by this tool under --root: systemctl --root follows the image's
 * links onto this machine, these paths never leave the root.
 */
export const wantsLinks = (layout: Layout, template: string): string[] =>
  wantedBy(template).map((target) => removalPath(layout, join('/etc/systemd/system', `${target}.wants`, unitName)))
