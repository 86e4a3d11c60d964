// Is this machine EC2? Decided from the firmware facts Linux shows in sysfs, as cloud-init's
// ds-identify does, so that off EC2 (a laptop VM, another cloud, CI) a run ends at once with 69
// instead of retrying IMDS until its deadline while docker waits. The verdict is a pure function
// of the facts; one small reader gathers them.

import { closeSync, constants, openSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { CliError, ExitCode, shown } from '../errors.js'
import { envNames } from '../settings/values.js'

/** IID_DOCKER_AUTH_PLATFORM: detect (auto), or say what the machine is. */
export type PlatformSetting = 'auto' | 'ec2' | 'other'

/** What sysfs says; undefined: the file is absent or cannot be read (product_uuid is root's only). */
export interface PlatformFacts {
  readonly sysVendor?: string | undefined
  readonly boardVendor?: string | undefined
  readonly biosVendor?: string | undefined
  readonly biosVersion?: string | undefined
  readonly productName?: string | undefined
  readonly productUuid?: string | undefined
  readonly chassisAssetTag?: string | undefined
  /** /sys/hypervisor/type and uuid: Xen guests only. */
  readonly hypervisorType?: string | undefined
  readonly hypervisorUuid?: string | undefined
}

export interface PlatformVerdict {
  /** unknown: the facts cannot tell, so IMDS is asked (a container, a sandbox, firmware without DMI). */
  readonly kind: 'ec2' | 'other' | 'unknown'
  readonly reason: string
}

const startsWithEc2 = (value: string | undefined): boolean => value !== undefined && /^ec2/i.test(value)

/**
 * A product UUID of EC2: "ec2..." or, where the firmware stores its first field little-endian,
 * that field byte-swapped ("45e12aec-..." is ec2ae145).
 */
export function isEc2Uuid(uuid: string): boolean {
  if (startsWithEc2(uuid)) return true
  const first = /^([0-9a-f]{8})-/i.exec(uuid)?.[1]
  return first !== undefined && startsWithEc2(first.match(/../g)!.reverse().join(''))
}

const isAmazon = (value: string | undefined): boolean => value !== undefined && /amazon/i.test(value)

/**
 * The verdict. Any sign of EC2 wins: a wrong "EC2" only costs today's wait, a wrong "not EC2"
 * costs an instance its credential. "Not EC2" needs the facts that would show EC2 to be readable.
 */
export function identifyPlatform(facts: PlatformFacts): PlatformVerdict {
  if (startsWithEc2(facts.hypervisorUuid)) return { kind: 'ec2', reason: `hypervisor uuid ${shown(facts.hypervisorUuid!)}` }
  if (facts.productUuid !== undefined && isEc2Uuid(facts.productUuid))
    return { kind: 'ec2', reason: `DMI product_uuid ${shown(facts.productUuid)}` }
  // Nitro: "Amazon EC2" as system, board and BIOS vendor; Xen instances: BIOS version "4.11.amazon".
  for (const [name, value] of [
    ['sys_vendor', facts.sysVendor],
    ['board_vendor', facts.boardVendor],
    ['bios_vendor', facts.biosVendor],
    ['bios_version', facts.biosVersion],
  ] as const) {
    if (isAmazon(value)) return { kind: 'ec2', reason: `DMI ${name} ${shown(value!)}` }
  }
  // Nitro puts the instance id in the chassis asset tag.
  if (facts.chassisAssetTag !== undefined && /^i-[0-9a-f]{8,17}$/.test(facts.chassisAssetTag))
    return { kind: 'ec2', reason: `DMI chassis_asset_tag ${shown(facts.chassisAssetTag)}` }
  if (facts.sysVendor === undefined || facts.sysVendor === '') return { kind: 'unknown', reason: 'no DMI system vendor to read' }
  // Xen hosts other than EC2 exist; only a uuid tells them apart, and product_uuid is root's only.
  const xen = /^xen$/i.test(facts.sysVendor) || facts.hypervisorType === 'xen'
  if (xen && facts.productUuid === undefined && facts.hypervisorUuid === undefined)
    return { kind: 'unknown', reason: 'Xen, but no uuid readable to tell EC2 from another Xen host' }
  const product = facts.productName === undefined || facts.productName === '' ? '' : `, product_name ${shown(facts.productName)}`
  return { kind: 'other', reason: `DMI sys_vendor ${shown(facts.sysVendor)}${product}` }
}

/** The first line of a small sysfs attribute; never blocks (O_NONBLOCK: a FIFO put in its place). */
function readAttribute(path: string): string | undefined {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch {
    return undefined
  }
  try {
    const buffer = Buffer.alloc(4096)
    const length = readSync(fd, buffer, 0, buffer.length, null)
    return buffer.subarray(0, length).toString('utf8').split('\n')[0]!.trim()
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}

/** The facts under `sysfs` (IID_DOCKER_AUTH_SYSFS, /sys by default). */
export function readPlatformFacts(sysfs: string): PlatformFacts {
  const dmi = (name: string): string | undefined => readAttribute(join(sysfs, 'class/dmi/id', name))
  return {
    sysVendor: dmi('sys_vendor'),
    boardVendor: dmi('board_vendor'),
    biosVendor: dmi('bios_vendor'),
    biosVersion: dmi('bios_version'),
    productName: dmi('product_name'),
    productUuid: dmi('product_uuid'),
    chassisAssetTag: dmi('chassis_asset_tag'),
    hypervisorType: readAttribute(join(sysfs, 'hypervisor/type')),
    hypervisorUuid: readAttribute(join(sysfs, 'hypervisor/uuid')),
  }
}

export const platformVariable = envNames.platform

/**
 * What the setting and the facts say before IMDS is asked: a CliError 69 off EC2, else the
 * verdict for the log. Read only with `auto`: a forced platform needs no facts.
 */
export function platformGate(setting: PlatformSetting, sysfs: string): PlatformVerdict {
  if (setting === 'ec2') return { kind: 'ec2', reason: `${platformVariable}=ec2` }
  if (setting === 'other') {
    throw new CliError(ExitCode.imdsUnavailable, `not EC2 (${platformVariable}=other): IMDS not asked`, {
      hint: `set ${platformVariable}=auto (or ec2) to ask IMDS`,
    })
  }
  const verdict = identifyPlatform(readPlatformFacts(sysfs))
  if (verdict.kind === 'other') {
    throw new CliError(ExitCode.imdsUnavailable, `not EC2 (${verdict.reason}): IMDS not asked`, {
      hint: `on EC2, or to use a metadata service elsewhere, set ${platformVariable}=ec2`,
    })
  }
  return verdict
}
