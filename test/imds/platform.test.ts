// The EC2 detector (src/imds/platform.ts) over fact tables of real machines, and its reader over
// fake sysfs trees.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type PlatformFacts, identifyPlatform, isEc2Uuid, platformGate, readPlatformFacts } from '../../src/imds/platform.js'
import { ExitCode } from '../../src/errors.js'
import { rejection } from '../support/helpers.js'

/** What each machine's sysfs shows to root; `asUser` drops what only root may read. */
const machines = {
  'EC2 Nitro (m5.large)': {
    sysVendor: 'Amazon EC2',
    boardVendor: 'Amazon EC2',
    biosVendor: 'Amazon EC2',
    biosVersion: '1.0',
    productName: 'm5.large',
    productUuid: 'ec2e1916-9099-7caf-fd21-012345abcdef',
    chassisAssetTag: 'i-0123456789abcdef0',
  },
  'EC2 Nitro bare metal (i3.metal)': {
    sysVendor: 'Amazon EC2',
    productName: 'i3.metal',
    productUuid: 'EC24C4B0-2F58-11E8-8A2C-0A58AC1F0001',
    chassisAssetTag: 'Amazon EC2',
  },
  'EC2 Xen (t2.micro)': {
    sysVendor: 'Xen',
    productName: 'HVM domU',
    biosVendor: 'Xen',
    biosVersion: '4.11.amazon',
    productUuid: 'EC2E1916-9099-7CAF-FD21-012345ABCDEF',
    hypervisorType: 'xen',
    hypervisorUuid: 'ec2e1916-9099-7caf-fd21-012345abcdef',
  },
  'EC2 Xen, uuid stored little-endian': {
    sysVendor: 'Xen',
    productName: 'HVM domU',
    biosVersion: '4.2',
    productUuid: '45E12AEC-DCD1-B213-94ED-012345ABCDEF',
    hypervisorType: 'xen',
  },
  'Google Compute Engine': {
    sysVendor: 'Google',
    productName: 'Google Compute Engine',
    biosVendor: 'Google',
    productUuid: '5a9c3c3e-6d4b-1a47-0f5b-8f3e0cd2d1b2',
    chassisAssetTag: '',
  },
  Azure: {
    sysVendor: 'Microsoft Corporation',
    productName: 'Virtual Machine',
    biosVendor: 'Microsoft Corporation',
    productUuid: '3e1b4a65-9dc2-43e6-a1f3-71b0e0b7cf3c',
    chassisAssetTag: '7783-7084-3265-9085-8269-3286-77',
  },
  'Hetzner Cloud': { sysVendor: 'Hetzner', productName: 'vServer', productUuid: '2c0f0e6c-3b1d-4c8a-9a51-6c5ae1b0f2d4' },
  'Xen elsewhere (root)': {
    sysVendor: 'Xen',
    productName: 'HVM domU',
    biosVersion: '4.4.1',
    productUuid: '7f3c9e1a-0b2d-4e5f-8a6b-1c2d3e4f5a6b',
    hypervisorType: 'xen',
    hypervisorUuid: '7f3c9e1a-0b2d-4e5f-8a6b-1c2d3e4f5a6b',
  },
  'laptop VM (QEMU/KVM)': {
    sysVendor: 'QEMU',
    productName: 'Standard PC (Q35 + ICH9, 2009)',
    biosVendor: 'SeaBIOS',
    productUuid: '0b5ef7a2-1c47-4d2a-9f0e-3b6c8d1e2f3a',
  },
  'laptop VM (VirtualBox)': {
    sysVendor: 'innotek GmbH',
    productName: 'VirtualBox',
    biosVendor: 'innotek GmbH',
    productUuid: 'd1c4e3a2-5b6f-4c8d-9e0a-1b2c3d4e5f60',
  },
} satisfies Record<string, PlatformFacts>

const asUser = (facts: PlatformFacts): PlatformFacts => ({ ...facts, productUuid: undefined })

describe('identifyPlatform', () => {
  it.each([
    ['EC2 Nitro (m5.large)', 'ec2'],
    ['EC2 Nitro bare metal (i3.metal)', 'ec2'],
    ['EC2 Xen (t2.micro)', 'ec2'],
    ['EC2 Xen, uuid stored little-endian', 'ec2'],
    ['Google Compute Engine', 'other'],
    ['Azure', 'other'],
    ['Hetzner Cloud', 'other'],
    ['Xen elsewhere (root)', 'other'],
    ['laptop VM (QEMU/KVM)', 'other'],
    ['laptop VM (VirtualBox)', 'other'],
  ] as const)('%s as root: %s', (name, kind) => {
    expect(identifyPlatform(machines[name]).kind).toBe(kind)
  })

  it('EC2 as a user who cannot read product_uuid (the credential helper): still EC2, Nitro and Xen', () => {
    expect(identifyPlatform(asUser(machines['EC2 Nitro (m5.large)']))).toEqual({ kind: 'ec2', reason: 'DMI sys_vendor "Amazon EC2"' })
    expect(identifyPlatform(asUser(machines['EC2 Xen (t2.micro)']))).toEqual({
      kind: 'ec2',
      reason: 'hypervisor uuid "ec2e1916-9099-7caf-fd21-012345abcdef"',
    })
    // No /sys/hypervisor (an old kernel): the BIOS version still names Amazon.
    expect(identifyPlatform({ ...asUser(machines['EC2 Xen (t2.micro)']), hypervisorUuid: undefined }).kind).toBe('ec2')
  })

  it('names what it saw when the machine is not EC2', () => {
    expect(identifyPlatform(machines['laptop VM (QEMU/KVM)'])).toEqual({
      kind: 'other',
      reason: 'DMI sys_vendor "QEMU", product_name "Standard PC (Q35 + ICH9, 2009)"',
    })
    expect(identifyPlatform(asUser(machines['Azure'])).kind).toBe('other')
  })

  it('never claims "not EC2" from facts it could not read: no DMI (a container, a sandbox), an empty vendor, Xen without a readable uuid', () => {
    expect(identifyPlatform({})).toEqual({ kind: 'unknown', reason: 'no DMI system vendor to read' })
    expect(identifyPlatform({ sysVendor: '', productName: 'x' }).kind).toBe('unknown')
    expect(identifyPlatform(asUser({ ...machines['Xen elsewhere (root)'], hypervisorUuid: undefined })).kind).toBe('unknown')
  })

  it('reads a product uuid in either byte order of its first field', () => {
    for (const uuid of [
      'ec2e1916-9099-7caf-fd21-012345abcdef',
      'EC2AE145-DCD1-B213-94ED-012345ABCDEF',
      '45E12AEC-DCD1-B213-94ED-012345ABCDEF',
    ])
      expect(isEc2Uuid(uuid), uuid).toBe(true)
    for (const uuid of ['0b5ef7a2-1c47-4d2a-9f0e-3b6c8d1e2f3a', 'e2c00000-0000-0000-0000-000000000000', 'not a uuid', ''])
      expect(isEc2Uuid(uuid), uuid).toBe(false)
  })
})

describe('readPlatformFacts and platformGate over a fake sysfs', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'iid-sysfs-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  const sysfs = (files: Record<string, string>): string => {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true })
      writeFileSync(join(dir, path), text)
    }
    return dir
  }

  it('reads the first line of each attribute, as sysfs ends them with a newline', () => {
    const root = sysfs({
      'class/dmi/id/sys_vendor': 'Amazon EC2\n',
      'class/dmi/id/product_name': 'm5.large\n',
      'hypervisor/uuid': 'ec2abc\n',
    })
    expect(readPlatformFacts(root)).toMatchObject({
      sysVendor: 'Amazon EC2',
      productName: 'm5.large',
      hypervisorUuid: 'ec2abc',
      productUuid: undefined,
    })
  })

  it('an absent sysfs is all unknown', () => {
    expect(identifyPlatform(readPlatformFacts(join(dir, 'none')))).toEqual({ kind: 'unknown', reason: 'no DMI system vendor to read' })
  })

  it('a FIFO in place of an attribute does not block the read', () => {
    mkdirSync(join(dir, 'class/dmi/id'), { recursive: true })
    execFileSync('mkfifo', [join(dir, 'class/dmi/id/sys_vendor')])
    expect(readPlatformFacts(dir).sysVendor ?? '').toBe('')
  })

  it('auto: 69 at once off EC2, with the reason; the verdict on EC2 or when unknown', async () => {
    const laptop = sysfs({ 'class/dmi/id/sys_vendor': 'QEMU\n', 'class/dmi/id/product_name': 'Standard PC (i440FX + PIIX, 1996)\n' })
    const error = await rejection(Promise.resolve().then(() => platformGate('auto', laptop)))
    expect(error.exitCode).toBe(ExitCode.imdsUnavailable)
    expect(error.message).toBe('not EC2 (DMI sys_vendor "QEMU", product_name "Standard PC (i440FX + PIIX, 1996)"): IMDS not asked')
    expect(error.hint).toMatch(/IID_DOCKER_AUTH_PLATFORM=ec2/)
    expect(platformGate('auto', join(dir, 'none')).kind).toBe('unknown')
  })

  it('the setting forces either way, whatever sysfs says', async () => {
    const laptop = sysfs({ 'class/dmi/id/sys_vendor': 'QEMU\n' })
    expect(platformGate('ec2', laptop)).toEqual({ kind: 'ec2', reason: 'IID_DOCKER_AUTH_PLATFORM=ec2' })
    const nitro = sysfs({ 'class/dmi/id/sys_vendor': 'Amazon EC2\n' })
    const error = await rejection(Promise.resolve().then(() => platformGate('other', nitro)))
    expect(error).toMatchObject({ exitCode: ExitCode.imdsUnavailable, message: 'not EC2 (IID_DOCKER_AUTH_PLATFORM=other): IMDS not asked' })
  })
})
