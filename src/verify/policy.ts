// Who may pull: deny by default. A policy names the accounts (or says, explicitly, any account),
// optionally narrows to regions and images, and can cap the instance's age since pendingTime.

import type { VerifiedIdentity } from './document.js'

export interface Policy {
  /** The accounts allowed, or 'any' (every AWS account whose instance is verified: anyone can launch one). */
  readonly accounts: ReadonlySet<string> | 'any'
  /** When set, only these regions. */
  readonly regions?: ReadonlySet<string> | undefined
  /** When set, only instances launched from these AMIs. */
  readonly images?: ReadonlySet<string> | undefined
  /** When set, instances launched longer ago than this are refused (milliseconds). */
  readonly maxAgeMs?: number | undefined
}

export class PolicyError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'PolicyError'
  }
}

/** Builds a policy from flag values; throws PolicyError for one that allows by default or is malformed. */
export function createPolicy(input: {
  accounts?: readonly string[]
  anyAccount?: boolean
  regions?: readonly string[]
  images?: readonly string[]
  maxAge?: string
}): Policy {
  const accounts = input.accounts ?? []
  if (accounts.length === 0 && input.anyAccount !== true)
    throw new PolicyError('no account is allowed: give --allow-account ID (repeatable), or --allow-any-account')
  if (accounts.length > 0 && input.anyAccount === true)
    throw new PolicyError('--allow-account and --allow-any-account contradict each other')
  for (const a of accounts) if (!/^[0-9]{12}$/.test(a)) throw new PolicyError(`${JSON.stringify(a)} is not a 12-digit AWS account ID`)
  for (const r of input.regions ?? [])
    if (!/^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$/.test(r)) throw new PolicyError(`${JSON.stringify(r)} is not a region`)
  for (const i of input.images ?? []) if (!/^ami-[0-9a-f]{8,32}$/.test(i)) throw new PolicyError(`${JSON.stringify(i)} is not an AMI ID`)
  const set = (values: readonly string[] | undefined): ReadonlySet<string> | undefined =>
    values === undefined || values.length === 0 ? undefined : new Set(values)
  return {
    accounts: input.anyAccount === true ? 'any' : new Set(accounts),
    regions: set(input.regions),
    images: set(input.images),
    maxAgeMs: input.maxAge === undefined ? undefined : parseDuration(input.maxAge),
  }
}

/** How far a launch time may lie ahead of this clock before --max-age refuses it as unknowable. */
const maxClockSkewMs = 5 * 60_000

const units: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `90d`, `12h`, `30m`, `45s`, or a sum of them (`1d12h`). */
export function parseDuration(text: string): number {
  const parts = [...text.matchAll(/([0-9]{1,6})([smhd])/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text)
    throw new PolicyError(`${JSON.stringify(text.slice(0, 40))} is not a duration such as 90d, 12h, 30m or 1d12h`)
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0)
  if (ms <= 0) throw new PolicyError('a duration must be more than zero')
  return ms
}

/** Undefined when `identity` is allowed at wall-clock time `nowMs`, else the reason it is not. */
export function checkPolicy(identity: VerifiedIdentity, policy: Policy, nowMs: number): string | undefined {
  if (policy.accounts !== 'any' && !policy.accounts.has(identity.accountId)) return `account ${identity.accountId} is not allowed`
  if (policy.regions !== undefined && !policy.regions.has(identity.region)) return `region ${identity.region} is not allowed`
  if (policy.images !== undefined && !policy.images.has(identity.imageId)) return `image ${identity.imageId} is not allowed`
  if (policy.maxAgeMs !== undefined) {
    const age = nowMs - Date.parse(identity.pendingTime)
    if (age < -maxClockSkewMs) return `instance ${identity.instanceId} has a pendingTime in the future (${identity.pendingTime})`
    if (age > policy.maxAgeMs)
      return `instance ${identity.instanceId} was launched at ${identity.pendingTime}, longer ago than the maximum age`
  }
  return undefined
}
