// verify --check-running: the instance named in a verified document must still be pending or running,
// as the EC2 API says (DescribeInstances, with this process's credentials from the SDK's default
// chain, in the document's region). It narrows replay to the instance's lifetime; it does not stop a
// copy replayed while the instance runs. Answers are cached with a bound; a failed call denies.
// The SDK is not bundled (it would be four times the package): it is loaded from beside the package
// when verify starts with --check-running, and its absence is a configuration error with the fix.

import { createRequire } from 'node:module'
import { CliError, ExitCode, clipped } from '../errors.js'
import { BoundedCache } from '../verify/cache.js'
import type { VerifiedIdentity } from '../verify/document.js'
import type { IdentityCheck } from '../verify/verifier.js'

export interface RunningCheckOptions {
  /** An EC2 endpoint URL instead of the region's (a VPC endpoint, or the tests' loopback stand-in). */
  readonly endpoint?: string | undefined
  readonly ttlMs: number
  readonly maxEntries?: number
  readonly timeoutMs?: number
}

type Ec2Module = typeof import('@aws-sdk/client-ec2')

const live = new Set(['pending', 'running'])

/** The SDK from the package's node_modules (or a parent's), else from beside the node binary (a single executable). */
export async function loadEc2Sdk(): Promise<Ec2Module> {
  // On Node 20 the SDK writes a multi-line support warning to stderr, where each verdict is one line
  // (the journal for --listen); docs/registry-side.md states the versions instead.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true'
  try {
    return await import('@aws-sdk/client-ec2')
  } catch {
    try {
      return createRequire(process.execPath)('@aws-sdk/client-ec2') as Ec2Module
    } catch {
      throw new CliError(
        ExitCode.verifyConfig,
        '--check-running needs @aws-sdk/client-ec2, which is not installed beside iid-docker-auth',
        {
          hint: 'install it where iid-docker-auth is installed: npm install -g @aws-sdk/client-ec2@3.1163.0',
        },
      )
    }
  }
}

/** Why a DescribeInstances call failed, in an operator's words (the SDK's error names are its own). */
function whyNot(error: unknown): string {
  const { name, code, message } = error as { name?: unknown; code?: unknown; message?: unknown }
  if (name === 'CredentialsProviderError') return 'no AWS credentials found (environment, profile, container or instance role)'
  if (name === 'Timeout' || name === 'TimeoutError' || name === 'AbortError') return 'no answer within the deadline'
  if (code === 'ECONNREFUSED') return 'the connection was refused'
  const first = typeof message === 'string' ? message.split('\n')[0]! : ''
  return `${typeof name === 'string' ? name : 'error'}${first === '' ? '' : `: ${clipped(first)}`}`
}

/** `promise`, or a rejection once `ms` have passed on Node's monotonic timers. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('deadline'), { name: 'Timeout' })), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

export function runningCheck(sdk: Ec2Module, options: RunningCheckOptions): IdentityCheck {
  const cache = new BoundedCache<true>(options.maxEntries ?? 10_000, options.ttlMs)
  const inFlight = new Map<string, Promise<string | undefined>>()
  const clients = new Map<string, InstanceType<Ec2Module['EC2Client']>>()

  const ask = async (identity: VerifiedIdentity): Promise<string | undefined> => {
    const { EC2Client, DescribeInstancesCommand } = sdk
    let client = clients.get(identity.region)
    if (client === undefined) {
      const timeout = options.timeoutMs ?? 5_000
      client = new EC2Client({
        region: identity.region,
        maxAttempts: 2,
        requestHandler: { connectionTimeout: timeout, requestTimeout: timeout },
        ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      })
      if (clients.size < 64) clients.set(identity.region, client)
    }
    const deadline = options.timeoutMs ?? 5_000
    try {
      // The abort ends the SDK's own wait; the race makes sure this settles at the deadline whatever the SDK does.
      const out = await withDeadline(
        client.send(new DescribeInstancesCommand({ InstanceIds: [identity.instanceId] }), { abortSignal: AbortSignal.timeout(deadline) }),
        deadline + 500,
      )
      const reservation = out.Reservations?.find((r) => r.Instances?.some((i) => i.InstanceId === identity.instanceId))
      const instance = reservation?.Instances?.find((i) => i.InstanceId === identity.instanceId)
      if (instance === undefined) return `instance ${identity.instanceId} is not known to the EC2 API`
      if (reservation?.OwnerId !== undefined && reservation.OwnerId !== identity.accountId)
        return `instance ${identity.instanceId} belongs to another account than the document's`
      const state = instance.State?.Name ?? 'unknown'
      return live.has(state) ? undefined : `instance ${identity.instanceId} is ${state}, not running`
    } catch (error) {
      const name = (error as { name?: unknown }).name
      if (name === 'InvalidInstanceID.NotFound' || name === 'InvalidInstanceID.Malformed')
        return `instance ${identity.instanceId} is not known to the EC2 API`
      return `the EC2 API could not confirm instance ${identity.instanceId} is running: ${whyNot(error)}`
    }
  }

  return async (identity) => {
    const key = `${identity.region}/${identity.instanceId}`
    if (cache.get(key) === true) return undefined
    let pending = inFlight.get(key)
    if (pending === undefined) {
      pending = ask(identity).finally(() => inFlight.delete(key))
      inFlight.set(key, pending)
    }
    const reason = await pending
    if (reason === undefined) cache.set(key, true)
    return reason
  }
}
