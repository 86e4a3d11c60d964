// What to do after a failed IMDS attempt: retry, or give up with which exit code. Pure.

import { ExitCode, type ExitCodeValue } from '../errors.js'

export type ImdsPhase = 'token' | 'document' | 'signature'

export type FailureKind =
  | 'http' // an HTTP status other than 200
  | 'connect-timeout' // no TCP connection within the attempt timeout
  | 'response-timeout' // connected, but no response headers in time
  | 'stalled' // headers arrived, the body did not finish in time
  | 'refused'
  | 'reset' // the connection was reset before the answer was complete
  | 'network' // unreachable networks and other socket errors
  | 'unusable' // a 200 whose body fails validation

export interface AttemptFailure {
  readonly phase: ImdsPhase
  readonly kind: FailureKind
  readonly status?: number
  /** One line for humans; never contains a token or a signature. */
  readonly detail: string
}

export type Verdict = { readonly retry: true } | { readonly retry: false; readonly exitCode: ExitCodeValue; readonly hint: string }

/** What the client saw of one request on the wire, whatever the SDK made of it (client.ts). */
export interface WireFacts {
  /** Whether its socket ever connected. */
  readonly connected: boolean
  /** The response status, once the headers arrived. */
  readonly status?: number | undefined
  /** The first error the request or its response emitted, as Node or the HTTP handler raised it. */
  readonly error?: unknown
}

const request: Record<ImdsPhase, string> = {
  token: 'the token request (PUT latest/api/token)',
  document: 'the request for the identity document',
  signature: 'the request for the signature',
}

/** What the phase's response carries, for details about what came back. */
export const answer: Record<ImdsPhase, string> = {
  token: 'the token',
  document: 'the identity document',
  signature: 'the signature',
}

interface ErrorFacts {
  readonly name?: unknown
  readonly code?: unknown
  readonly cause?: unknown
  readonly $metadata?: { readonly httpStatusCode?: unknown }
}

/** An error and its causes, outermost first. */
function causeChain(error: unknown): ErrorFacts[] {
  const chain: ErrorFacts[] = []
  for (let e = error; typeof e === 'object' && e !== null && chain.length < 8; e = (e as ErrorFacts).cause) chain.push(e as ErrorFacts)
  return chain
}

const first = <T>(values: readonly unknown[], is: (v: unknown) => v is T): T | undefined => values.find(is) as T | undefined
const isNumber = (v: unknown): v is number => typeof v === 'number'
const isString = (v: unknown): v is string => typeof v === 'string'

/**
 * Turns a failed request into a failure we can reason about: from what the client saw on the wire,
 * then the HTTP status, error name and code along the error's cause chain, and only then its text.
 */
export function classifyError(phase: ImdsPhase, error: unknown, wire?: WireFacts): AttemptFailure {
  const chain = [...causeChain(wire?.error), ...causeChain(error)]
  const message = error instanceof Error ? error.message : String(error)
  // The pinned SDK (3.1163.0) wraps every failure in a new Error whose message is `${original}`:
  // the original's code and cause are lost, and on the token PUT its status too. Without what the
  // wire showed, its text is all that is left: "status code N", the original's name
  // ("TimeoutError: ...") and Node's error codes in the original's message.
  const textStatus = /status code (\d{3})\b/.exec(message)?.[1]
  const status =
    wire?.status ??
    first(
      chain.map((e) => e.$metadata?.httpStatusCode),
      isNumber,
    ) ??
    (textStatus === undefined ? undefined : Number(textStatus))
  const textCode =
    /\b(E(?!RROR\b)[A-Z]{3,})\b/.exec(message)?.[1] ??
    (/requestTimeout/.test(message) ? 'ETIMEDOUT' : /socket hang up/.test(message) ? 'ECONNRESET' : undefined)
  const code =
    first(
      chain.map((e) => e.code),
      isString,
    ) ?? textCode
  const timedOut = chain.some((e) => e.name === 'TimeoutError') || /\bTimeoutError\b/.test(message)

  if (status === 200) {
    // The headers said 200 and then the body broke off; or the SDK refused an empty body.
    if (wire?.status === 200 && code !== undefined)
      return { phase, kind: 'network', detail: `${answer[phase]} broke off while arriving (${code})` }
    return { phase, kind: 'unusable', detail: `${answer[phase]} came back empty` }
  }
  if (status !== undefined) return { phase, kind: 'http', status, detail: `${request[phase]} got HTTP ${status}` }
  if (code === 'ECONNREFUSED') return { phase, kind: 'refused', detail: `${request[phase]} could not connect: connection refused` }
  // A request the HTTP handler destroyed before it connected: its connection timeout, which it
  // names TimeoutError and gives no code (the request itself reports a hang-up).
  const connectTimeout =
    wire === undefined
      ? timedOut && code === undefined
      : !wire.connected && (code === undefined || code === 'ECONNRESET' || code === 'ETIMEDOUT')
  if (connectTimeout) return { phase, kind: 'connect-timeout', detail: `${request[phase]} could not connect in time` }
  // The handler's request timeout carries ETIMEDOUT; it renames resets to TimeoutError, so the code decides.
  if (code === 'ETIMEDOUT') return { phase, kind: 'response-timeout', detail: `${request[phase]} connected but got no answer in time` }
  if (code === 'ECONNRESET' || code === 'EPIPE') return { phase, kind: 'reset', detail: `${request[phase]} was cut off: connection reset` }
  return { phase, kind: 'network', detail: `${request[phase]} failed: ${code ?? 'network error'}` }
}

const retryableStatus = (status: number): boolean => status === 401 || status === 408 || status === 429 || status >= 500

export const hopLimitHint =
  'aws ec2 modify-instance-metadata-options --instance-id <id> --http-put-response-hop-limit 2, or run on the host ' +
  "(a token PUT that connects but is never answered is what a container sees when the instance's HttpPutResponseHopLimit is 1)"

/**
 * What the caller's user changes to move the IMDS endpoint or the deadline, as hints name them: a
 * flag for the commands, a variable and where it is set for the helper and the kubelet provider.
 */
export interface ImdsControls {
  readonly endpoint: string
  readonly timeout: string
}

export const flagControls: ImdsControls = { endpoint: '--endpoint', timeout: '--timeout' }

export function decide(failure: AttemptFailure, controls: ImdsControls = flagControls): Verdict {
  if (failure.kind !== 'http') return { retry: true }
  const status = failure.status!
  if (retryableStatus(status)) return { retry: true }
  if (status === 403) {
    return {
      retry: false,
      exitCode: ExitCode.imdsUnavailable,
      hint:
        failure.phase === 'token'
          ? 'aws ec2 modify-instance-metadata-options --instance-id <id> --http-endpoint enabled ' +
            '(IMDS refuses tokens when its endpoint is disabled for the instance), or let any proxy in between pass the PUT'
          : 'check the instance metadata options and any proxy in between (the metadata service refused the request)',
    }
  }
  if (status === 404) {
    return {
      retry: false,
      exitCode: ExitCode.imdsUnavailable,
      hint:
        'IMDS does not serve this path: check that this is an EC2 instance and that ' +
        `${controls.endpoint} (or AWS_EC2_METADATA_SERVICE_ENDPOINT) points at the metadata service`,
    }
  }
  return {
    retry: false,
    exitCode: ExitCode.imdsUnavailable,
    hint: `this status is not one the metadata service gives a correct IMDSv2 client; check ${controls.endpoint} and any proxy in between`,
  }
}

export const backoffBaseMs = 100
export const backoffCapMs = 1000

/** Exponential backoff with jitter: half fixed, half random, from ~100 ms, capped at 1 s. */
export function backoffDelay(failures: number, random: number): number {
  const ceiling = Math.min(backoffCapMs, backoffBaseMs * 2 ** Math.max(0, failures - 1))
  return Math.round(ceiling / 2 + (ceiling / 2) * random)
}
