// The unit as the deb and rpm packages ship it: the same unit and sandbox that install renders,
// run from the package's executable, and skipped (not failed) at a boot before a registry is set.

import { packageExecutable } from './names.js'
import { renderUnit, unitHeader } from './unit.js'

/** The start of the packages' unit, in place of install's header (so uninstall never removes it). */
export const packageUnitHeader = '# Installed by the iid-docker-auth package.'

/**
 * `unit-condition` says, in the journal and `systemctl status`, what to set and where; its exit
 * status 78 makes systemd skip the unit, so an unconfigured install boots with no failed unit.
 */
const condition = [
  '# Until a registry is set in /etc/default/iid-docker-auth the unit is skipped, and says so.',
  `ExecCondition=${packageExecutable} unit-condition`,
]

/** The packages' unit: ExecStart on the executable, the default config directory writable. */
export function renderPackageUnit(template: string): string {
  const unit = renderUnit(template, {
    node: packageExecutable,
    cli: undefined,
    configFiles: [{ path: '/root/.docker/config.json', directory: '/root/.docker' }],
  })
  const lines = unit.split('\n')
  lines[0] = lines[0]!.replace(unitHeader, packageUnitHeader)
  const pre = lines.findIndex((l) => l.startsWith('ExecStartPre='))
  lines.splice(pre, 0, ...condition)
  return lines.join('\n')
}
