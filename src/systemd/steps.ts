// The steps install and uninstall take: what each says for people and for --json, and running them
// in order, stopping at the first failure.

import { randomBytes } from 'node:crypto'
import { rename, rmdir, symlink, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from '../log.js'
import { CliError, ExitCode, errnoOf } from '../errors.js'
import { ensureDirectories, readConfigFile, removeLeftoverTemps, writeAtomic } from '../fs/config-file.js'
import type { Systemctl } from './systemctl.js'

export type Step =
  | { readonly kind: 'write'; readonly path: string; readonly content: string; readonly mode: number }
  | { readonly kind: 'unchanged'; readonly path: string }
  | { readonly kind: 'remove'; readonly path: string }
  | { readonly kind: 'link'; readonly path: string; readonly target: string }
  /** A link of the unit's, and its .wants directory once empty, as systemctl disable leaves them. */
  | { readonly kind: 'unlink'; readonly path: string }
  | { readonly kind: 'keep'; readonly path: string; readonly reason: string }
  /** timeoutSeconds: how long to wait for systemctl when the default is not enough. */
  | { readonly kind: 'systemctl'; readonly args: readonly string[]; readonly timeoutSeconds?: number }

export const describeStep = (step: Step, dryRun: boolean): string => {
  const would = (done: string, planned: string): string => (dryRun ? planned : done)
  switch (step.kind) {
    case 'write':
      return `${would('wrote', 'would write')} ${step.path} (mode ${step.mode.toString(8).padStart(4, '0')})`
    case 'unchanged':
      return `${step.path} already current`
    case 'remove':
      return `${would('removed', 'would remove')} ${step.path}`
    case 'link':
      return `${would('linked', 'would link')} ${step.path} -> ${step.target}`
    case 'unlink':
      return `${would('removed', 'would remove')} ${step.path}`
    case 'keep':
      return `${would('kept', 'would keep')} ${step.path}: ${step.reason}`
    case 'systemctl':
      return `${would('ran', 'would run')} systemctl ${step.args.join(' ')}`
  }
}

/** A step as test/schemas/install.schema.json describes it: no file content. */
export const jsonStep = (step: Step) =>
  step.kind === 'systemctl'
    ? { action: step.kind, args: step.args }
    : { action: step.kind, path: step.path, ...(step.kind === 'keep' ? { reason: step.reason } : {}) }

/** Runs the steps in order and stops at the first failure, which it rethrows. */
export async function runSteps(steps: readonly Step[], systemctl: Systemctl, log: Logger, done: (step: Step) => void): Promise<void> {
  for (const step of steps) {
    // An install or uninstall killed mid-write left its temp file beside this one: ours to remove.
    if (step.kind === 'write' || step.kind === 'unchanged' || step.kind === 'remove') {
      for (const path of await removeLeftoverTemps(step.path)) log.debug(`removed ${path}, left by a run that was killed mid-write`)
    }
    switch (step.kind) {
      case 'write': {
        await ensureDirectories(dirname(step.path), 0o755)
        await readConfigFile(step.path, 1024 * 1024) // refuses what is not a regular file
        // Never the previous owner: what a root unit loads is root's.
        const onWarning = (warning: string): void => log.warn(warning)
        await writeAtomic(step.path, step.content, { previous: undefined, mode: step.mode, stillCurrent: async () => true, onWarning })
        break
      }
      case 'remove':
        try {
          await unlink(step.path)
        } catch (error) {
          const code = errnoOf(error)
          if (code !== 'ENOENT')
            throw new CliError(ExitCode.cannotWrite, `cannot remove ${step.path}: ${code ?? String(error)}`, {
              hint: 'check the permissions of that directory',
            })
        }
        break
      case 'link': {
        // As systemctl enable leaves it: a link to the unit, made beside and renamed into place.
        await ensureDirectories(dirname(step.path), 0o755)
        const temp = `${step.path}.${randomBytes(6).toString('hex')}.tmp`
        const failed = (error: unknown): CliError =>
          new CliError(ExitCode.cannotWrite, `cannot link ${step.path}: ${errnoOf(error) ?? String(error)}`, {
            hint: 'check the permissions of that directory',
          })
        await symlink(step.target, temp).catch((error: unknown) => {
          throw failed(error)
        })
        // Only a temp link this run made is removed on failure.
        await rename(temp, step.path).catch(async (error: unknown) => {
          await unlink(temp).catch(() => {})
          throw failed(error)
        })
        break
      }
      case 'unlink':
        await unlink(step.path).catch((error: unknown) => {
          if (errnoOf(error) !== 'ENOENT')
            throw new CliError(ExitCode.cannotWrite, `cannot remove ${step.path}: ${errnoOf(error) ?? String(error)}`)
        })
        await rmdir(dirname(step.path)).catch(() => {})
        break
      case 'systemctl':
        await systemctl(step.args, step.timeoutSeconds)
        break
      case 'unchanged':
      case 'keep':
        break
    }
    log.info(describeStep(step, false))
    done(step)
  }
}
