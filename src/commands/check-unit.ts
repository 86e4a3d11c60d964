// `check`'s verdicts on the boot unit, pure: its state this boot, and which route is in charge of
// it, the deb/rpm package (its unit in /usr/lib/systemd/system) or `iid-docker-auth install` (/etc).

import { ExitCode, type ExitCodeValue } from '../errors.js'
import { envNames } from '../settings/values.js'
import { environmentFilePath, packageUnitPath, unitName } from '../systemd/names.js'
import { type CheckLine, fail, ok, warn } from './check-lines.js'

/** `systemctl show` properties of the unit, or undefined when systemd is not running here. */
export type UnitFacts = Record<string, string> | undefined

/** Where a bare run takes its registries from, as a fix names it. */
export const registriesSetting = `${envNames.registries}=<host[:port]> in ${environmentFilePath}`

export function unitLines(facts: UnitFacts): CheckLine[] {
  if (facts === undefined) return [ok('unit', 'systemd is not running here; the unit was not checked')]
  const install = `iid-docker-auth install --registry <host> (or bake it into the image)`
  if (facts['LoadState'] === 'not-found') return [warn('unit', `${unitName} is not installed: nothing runs this tool at boot`, install)]
  const lines: CheckLine[] = []
  if (facts['UnitFileState'] !== 'enabled')
    lines.push(warn('unit', `${unitName} is installed but ${facts['UnitFileState'] || 'not enabled'}`, `systemctl enable ${unitName}`))
  else lines.push(ok('unit', `${unitName} is installed and enabled`))
  // The packaged unit's ExecCondition skips it until a registry is set (src/commands/unit-condition.ts).
  if (facts['Result'] === 'exec-condition')
    lines.push(
      warn('unit', `${unitName} was skipped this boot: no registry is set`, `set ${registriesSetting}, then systemctl start ${unitName}`),
    )
  else if (facts['Result'] !== undefined && facts['Result'] !== 'success') {
    const status = Number(facts['ExecMainStatus'])
    const known = [64, 65, 69, 71, 73, 78].includes(status) ? (status as ExitCodeValue) : ExitCode.unexpected
    lines.push(
      fail(
        'unit',
        `${unitName} failed this boot (${facts['Result']}, exit status ${facts['ExecMainStatus']})`,
        `journalctl -b -u ${unitName}`,
        known,
      ),
    )
  } else if (facts['ActiveState'] === 'active') lines.push(ok('unit', `${unitName} ran successfully this boot`))
  else lines.push(warn('unit', `${unitName} has not run this boot (${facts['ActiveState']})`, `systemctl start ${unitName}`))
  return lines
}

/**
 * The line naming the owner. `fragment` is the unit file systemd loaded and `packaged` the
 * package's unit if it is there, both with links resolved (/lib is /usr/lib on merged-/usr systems).
 */
export function ownerLine(fragment: string | undefined, packaged: string | undefined): CheckLine | undefined {
  if (packaged !== undefined && (fragment === undefined || fragment === '' || fragment === packaged))
    return ok('unit', `${unitName} comes from the iid-docker-auth package; its settings are in ${environmentFilePath}`)
  if (packaged !== undefined)
    return warn(
      'unit',
      `${fragment} (from iid-docker-auth install) overrides the package's ${packageUnitPath}`,
      'run iid-docker-auth uninstall: the package then runs the unit, with the same settings file',
    )
  if (fragment !== undefined && fragment !== '')
    return ok('unit', `${unitName} was installed by iid-docker-auth install (${fragment}); uninstall removes it`)
  return undefined
}
