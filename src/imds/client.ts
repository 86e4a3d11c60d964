// IMDSv2 through @aws-sdk/ec2-metadata-service, wrapped so that it cannot hang a boot or fall back
// to tokenless IMDSv1: a fresh client per attempt (its token failures are sticky), our own retry
// loop with an overall deadline, a watchdog per request (it waits forever on a stalled body), and
// every socket an attempt opened destroyed when the attempt ends.

import { setTimeout as delay } from 'node:timers/promises'
import { MetadataService } from '@aws-sdk/ec2-metadata-service'
import { monotonicMs } from '../clock.js'
import { CliError, ExitCode } from '../errors.js'
import { type InstanceIdentity, UnusableIdentityError, validateIdentity } from './identity.js'
import {
  type AttemptFailure,
  type ImdsControls,
  type ImdsPhase,
  type WireFacts,
  answer,
  backoffDelay,
  classifyError,
  decide,
  flagControls,
  hopLimitHint,
} from './retry-policy.js'
import type { Logger } from '../log.js'
import type { Settings, SignatureKind } from '../settings/settings.js'
import { defaultAttemptTimeoutSeconds } from '../settings/values.js'
import { platformGate } from './platform.js'
import { type ResponseLimit, limitResponses, maxResponseBytes, maxResponseText, watchSockets } from './wire.js'

export interface FetchIdentityOptions {
  readonly endpoint: string
  readonly signature: SignatureKind
  /** Overall deadline for getting a valid identity. */
  readonly timeoutMs: number
  readonly log: Logger
  /** How the user changes the endpoint and the deadline, for the hints (default: the flags). */
  readonly controls?: ImdsControls
  /** Upper bound for one request; the remaining deadline also bounds it. */
  readonly attemptTimeoutMs?: number
  /** How often to say that we are still waiting. */
  readonly progressEveryMs?: number
  /** Milliseconds on a monotonic clock (src/clock.ts); tests inject their own. */
  readonly now?: () => number
  readonly sleep?: (ms: number) => Promise<void>
  readonly random?: () => number
}

const watchdogGraceMs = 250
/** Short-lived: the token is used within one attempt. */
export const tokenTtlSeconds = 60

const identityPath = 'latest/dynamic/instance-identity/' // no leading slash: the SDK would send `//latest`

class WatchdogTimeout extends Error {}

const phaseOfPath = (path: string): ImdsPhase =>
  path.endsWith('/api/token') ? 'token' : path.endsWith('/document') ? 'document' : 'signature'

function withWatchdog<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const watchdog = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WatchdogTimeout()), ms)
  })
  return Promise.race([work, watchdog]).finally(() => clearTimeout(timer))
}

async function step<T>(phase: ImdsPhase, timeoutMs: number, limit: ResponseLimit, work: () => Promise<T>): Promise<T> {
  const tooLarge = (): AttemptError | undefined =>
    [...limit.tooLarge].some((path) => phaseOfPath(path) === phase)
      ? failure({ phase, kind: 'unusable', detail: `the ${phase} response is larger than ${maxResponseText}` })
      : undefined
  let result: T
  try {
    result = await withWatchdog(work(), timeoutMs + watchdogGraceMs)
  } catch (error) {
    throw tooLarge() ?? stepFailure(phase, error, [...limit.wire].findLast(([path]) => phaseOfPath(path) === phase)?.[1])
  }
  // The chunk that crosses the limit may still complete the response, so a success is checked too.
  const over = tooLarge()
  if (over !== undefined) throw over
  return result
}

function stepFailure(phase: ImdsPhase, error: unknown, wire: WireFacts | undefined): AttemptError {
  if (error instanceof WatchdogTimeout)
    return failure({ phase, kind: 'stalled', detail: `${answer[phase]} started to arrive but did not finish in time` })
  return failure(classifyError(phase, error, wire))
}

class AttemptError extends Error {
  constructor(readonly failure: AttemptFailure) {
    super(failure.detail)
  }
}
const failure = (f: AttemptFailure): AttemptError => new AttemptError(f)

/** One attempt: a token, then both GETs in parallel with that token. `budget` gives each request its timeout. */
async function attempt(
  endpoint: string,
  signature: SignatureKind,
  budget: () => number,
  limit: ResponseLimit,
): Promise<{ document: string; signature: string }> {
  const tokenTimeout = budget()
  const tokenClient = new MetadataService({
    endpoint,
    httpOptions: { timeout: tokenTimeout },
    retries: 0,
    ec2MetadataV1Disabled: true,
    tokenTtl: tokenTtlSeconds,
  })
  const token = await step('token', tokenTimeout, limit, () => tokenClient.fetchMetadataToken())
  if (token.trim() === '') throw failure({ phase: 'token', kind: 'unusable', detail: 'the token came back empty' })
  // IMDS tokens are printable ASCII; anything else cannot travel in a header (Node refuses to send it).
  if (!/^[\x21-\x7e]+$/.test(token))
    throw failure({ phase: 'token', kind: 'unusable', detail: 'the token holds characters an HTTP header cannot carry' })
  // disableFetchToken stops the SDK from fetching (and falling back) on its own; we always send
  // the token ourselves. (With ec2MetadataV1Disabled the SDK refuses that combination outright.)
  const getTimeout = budget()
  const getClient = new MetadataService({
    endpoint,
    httpOptions: { timeout: getTimeout },
    retries: 0,
    disableFetchToken: true,
    ec2MetadataV1Disabled: false,
  })
  const get = (phase: ImdsPhase, path: string): Promise<string> =>
    step(phase, getTimeout, limit, () => getClient.request(path, { headers: { 'x-aws-ec2-metadata-token': token } }))
  const [document, sig] = await Promise.all([get('document', `${identityPath}document`), get('signature', `${identityPath}${signature}`)])
  return { document, signature: sig }
}

const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`

/** Gets and validates the identity, retrying until the deadline. Throws CliError 65 or 69. */
export async function fetchIdentity(options: FetchIdentityOptions): Promise<InstanceIdentity> {
  const now = options.now ?? monotonicMs
  const sleep = options.sleep ?? ((ms: number) => delay(ms))
  const random = options.random ?? Math.random
  const attemptLimit = options.attemptTimeoutMs ?? defaultAttemptTimeoutSeconds * 1000
  const progressEvery = options.progressEveryMs ?? 5000
  const { endpoint, log } = options
  const controls = options.controls ?? flagControls

  const started = now()
  const deadline = started + options.timeoutMs
  let failures = 0
  let last: AttemptFailure | undefined
  // IMDS that answered with unusable data is not unavailable, even when the attempt the deadline
  // cut short ended in a timeout: the answer it gave decides the exit code.
  let lastUnusable: AttemptFailure | undefined
  let hopLimitSuspected = false
  let lastProgress = started

  for (;;) {
    // The watchdog may add its grace to a request's timeout; keep both inside the deadline.
    const budget = (): number => Math.max(50, Math.min(attemptLimit, deadline - now() - watchdogGraceMs))
    const closeSockets = watchSockets()
    const limit = limitResponses(maxResponseBytes)
    try {
      const bodies = await attempt(endpoint, options.signature, budget, limit)
      try {
        const identity = validateIdentity(bodies.document, bodies.signature)
        if (failures > 0) log.info(`IMDS answered after ${seconds(now() - started)} and ${failures} failed attempt(s)`)
        return identity
      } catch (error) {
        if (!(error instanceof UnusableIdentityError)) throw error
        throw failure({ phase: 'document', kind: 'unusable', detail: error.message })
      }
    } catch (error) {
      if (!(error instanceof AttemptError)) throw error
      last = error.failure
      if (last.kind === 'unusable') lastUnusable = last
    } finally {
      limit.stop()
      closeSockets()
    }

    failures++
    if (last.phase === 'token' && last.kind === 'response-timeout') hopLimitSuspected = true
    log.debug(`IMDS attempt ${failures} failed: ${last.detail}`)
    const verdict = decide(last, controls)
    if (!verdict.retry) {
      throw new CliError(verdict.exitCode, `IMDS at ${endpoint} gave up: ${last.detail}`, { hint: verdict.hint })
    }
    const elapsed = now() - started
    if (now() - lastProgress >= progressEvery) {
      lastProgress = now()
      log.info(`still waiting for IMDS at ${endpoint} (${seconds(elapsed)} of ${seconds(options.timeoutMs)}): ${last.detail}`)
    }
    // Keep trying until the deadline: the last wait is cut short so that one more attempt fits.
    const remaining = deadline - now() - watchdogGraceMs - 50
    if (remaining <= 0) break
    await sleep(Math.min(backoffDelay(failures, random()), remaining))
  }

  const waited = seconds(options.timeoutMs)
  if (lastUnusable !== undefined) {
    throw new CliError(ExitCode.imdsUnusable, `IMDS at ${endpoint} answered with unusable data for ${waited}: ${lastUnusable.detail}`, {
      hint: `a proxy or cache between this host and IMDS may be answering; check ${controls.endpoint}`,
    })
  }
  const message = `IMDS at ${endpoint} did not give the identity within ${waited}: ${last?.detail ?? 'no attempt finished'}`
  throw new CliError(ExitCode.imdsUnavailable, message, {
    hint: hopLimitSuspected
      ? hopLimitHint
      : `check that this is an EC2 instance with its metadata service enabled, or raise ${controls.timeout}; ` +
        `off EC2 give the metadata service's URL in ${controls.endpoint}`,
  })
}

/**
 * The identity for a command's settings, every mode's one way in: first the platform gate (off
 * EC2, 69 at once without asking IMDS), then fetchIdentity.
 */
export async function fetchIdentityFor(
  o: Pick<Settings, 'platform' | 'sysfs' | 'endpoint' | 'signature' | 'timeoutMs' | 'attemptTimeoutMs'>,
  log: Logger,
  timeoutMs: number = o.timeoutMs,
  controls: ImdsControls = flagControls,
): Promise<InstanceIdentity> {
  const verdict = platformGate(o.platform, o.sysfs)
  log.debug(`platform: ${verdict.kind === 'ec2' ? 'EC2' : 'not known, so IMDS decides'} (${verdict.reason})`)
  return fetchIdentity({ endpoint: o.endpoint, signature: o.signature, timeoutMs, attemptTimeoutMs: o.attemptTimeoutMs, log, controls })
}
