// What to do after a failed IMDS attempt: retry, or give up with which exit code. Pure.

import { ExitCode, type ExitCodeValue } from '../errors.js'

export type ImdsPhase = 'token' | 'document' | 'signature'

export type FailureKind =
  | 'http' // an HTTP status other than 200
  | 'connect-timeout' // no TCP connection within the attempt timeout
  | 'response-timeout' // connected, but no response headers in time
  | 'stalled' // headers arrived, the body did not finish in time
  | 'refused'
  | 'network' // resets, unreachable networks and other socket errors
  | 'unusable' // a 200 whose body fails validation

export interface AttemptFailure {
  readonly phase: ImdsPhase
  readonly kind: FailureKind
  readonly status?: number
  /** One line for humans; never contains a token or a signature. */
  readonly detail: string
}

export type Verdict = { readonly retry: true } | { readonly retry: false; readonly exitCode: ExitCodeValue; readonly hint: string }

const what: Record<ImdsPhase, string> = {
  token: 'the token request (PUT latest/api/token)',
  document: 'the identity document',
  signature: 'the signature',
}

/** Turns whatever the SDK threw into a failure we can reason about. */
export function classifyError(phase: ImdsPhase, error: unknown): AttemptFailure {
  const message = error instanceof Error ? error.message : String(error)
  const metaStatus = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode
  const statusMatch = /status code (\d{3})/.exec(message)
  const status = typeof metaStatus === 'number' ? metaStatus : statusMatch ? Number(statusMatch[1]) : undefined
  if (status !== undefined) {
    if (status === 200) return { phase, kind: 'unusable', detail: `${what[phase]} came back empty` }
    return { phase, kind: 'http', status, detail: `${what[phase]} got HTTP ${status}` }
  }
  if (/did not establish a connection/.test(message)) return { phase, kind: 'connect-timeout', detail: `${what[phase]} could not connect in time` }
  if (/requestTimeout|ETIMEDOUT/.test(message)) return { phase, kind: 'response-timeout', detail: `${what[phase]} connected but got no answer in time` }
  if (/ECONNREFUSED/.test(message)) return { phase, kind: 'refused', detail: `${what[phase]}: connection refused` }
  const errno = /\b(E[A-Z]{3,})\b/.exec(message)?.[1]
  if (/socket hang up/.test(message)) return { phase, kind: 'network', detail: `${what[phase]}: connection reset (socket hang up)` }
  return { phase, kind: 'network', detail: `${what[phase]}: ${errno ?? 'network error'}` }
}

const retryableStatus = (status: number): boolean => status === 401 || status === 408 || status === 429 || status >= 500

export const hopLimitHint =
  'a token PUT that connects but is never answered is what a container sees when the instance\'s HttpPutResponseHopLimit is 1; ' +
  'fix: aws ec2 modify-instance-metadata-options --instance-id <id> --http-put-response-hop-limit 2'

export function decide(failure: AttemptFailure): Verdict {
  if (failure.kind !== 'http') return { retry: true }
  const status = failure.status!
  if (retryableStatus(status)) return { retry: true }
  if (status === 403) {
    return {
      retry: false,
      exitCode: ExitCode.imdsUnavailable,
      hint:
        failure.phase === 'token'
          ? 'IMDS refuses tokens when the metadata endpoint is disabled for the instance (or a proxy forbids the PUT); fix: aws ec2 modify-instance-metadata-options --instance-id <id> --http-endpoint enabled'
          : 'the metadata service refused the request; check the instance metadata options and any proxy in between',
    }
  }
  if (status === 404) {
    return {
      retry: false,
      exitCode: ExitCode.imdsUnavailable,
      hint: 'IMDS does not serve this path: check that this is an EC2 instance and that --endpoint (or AWS_EC2_METADATA_SERVICE_ENDPOINT) points at the metadata service',
    }
  }
  return {
    retry: false,
    exitCode: ExitCode.imdsUnavailable,
    hint: 'this status is not one the metadata service gives a correct IMDSv2 client; check --endpoint and any proxy in between',
  }
}

export const backoffBaseMs = 100
export const backoffCapMs = 1000

/** Exponential backoff with jitter: half fixed, half random, from ~100 ms, capped at 1 s. */
export function backoffDelay(failures: number, random: number): number {
  const ceiling = Math.min(backoffCapMs, backoffBaseMs * 2 ** Math.max(0, failures - 1))
  return Math.round(ceiling / 2 + (ceiling / 2) * random)
}
