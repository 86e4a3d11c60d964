// `iid-docker-auth verify`: the registry side. Without --listen it is a docker_auth external
// authenticator (cesanta/docker_auth auth_server/authn/ext_auth.go: `<user> <password>` on stdin, no
// newline; exit 0 allowed, 1 denied, 2 no match, 3 error); with --listen it serves nginx auth_request
// (src/commands/verify-http.ts). Both ask the one core in src/verify/. This file turns flags into a
// verifier and a verdict into an exit code and one log line; it never prints the credential.

import { readBounded } from '../cli/stdin.js'
import { type CliIo, loggerFor } from '../cli/io.js'
import { reportError } from '../cli/report.js'
import { CliError, ExitCode, shown } from '../errors.js'
import { readSmallFileSync } from '../fs/small-file.js'
import { defaultUsername } from '../imds/identity.js'
import { logLine } from '../log.js'
import { parseExtAuthInput } from '../verify/credential.js'
import type { VerifiedIdentity } from '../verify/document.js'
import { PolicyError, createPolicy, parseDuration } from '../verify/policy.js'
import { CertificateError, type TrustedKey, createTrustStore, parsePemCertificates } from '../verify/trust.js'
import { type IdentityCheck, type Verdict, type Verifier, createVerifier } from '../verify/verifier.js'

export interface VerifyFlags {
  readonly username?: string
  readonly allowAccount?: string[]
  readonly allowAnyAccount?: boolean
  readonly allowRegion?: string[]
  readonly allowImage?: string[]
  readonly maxAge?: string
  readonly certs?: string[]
  readonly listen?: string
  readonly realm?: string
  readonly maxConnections?: string
  readonly cacheSize?: string
  readonly cacheTtl?: string
  readonly checkRunning?: boolean
  readonly ec2Endpoint?: string
  readonly quiet?: boolean
  readonly verbose?: boolean
}

/** What ext_auth reads from stdin at most: a PKCS7 is about 2 KB; the rest is refused unread. */
export const maxStdinBytes = 64 * 1024
export const stdinSeconds = 5
const certificateFileBytes = 1024 * 1024

/** A broken configuration: docker_auth's "error" (exit 3), before any credential is looked at. */
const configError = (message: string, hint?: string): CliError =>
  new CliError(ExitCode.verifyConfig, message, hint === undefined ? {} : { hint })

function readCertificates(files: readonly string[]): TrustedKey[] {
  const keys: TrustedKey[] = []
  for (const file of files) {
    const read = readSmallFileSync(file, certificateFileBytes)
    if ('errno' in read) throw configError(`cannot read --certs ${shown(file)}: ${read.errno}`, 'name a readable PEM file')
    if ('problem' in read)
      throw configError(
        `--certs ${shown(file)} is ${read.problem === 'too large' ? `over ${certificateFileBytes} bytes` : 'not a regular file'}`,
        'name a PEM file of certificates',
      )
    const text = read.bytes.toString('utf8')
    try {
      keys.push(...parsePemCertificates(text, `--certs ${shown(file)}`))
    } catch (error) {
      if (error instanceof CertificateError) throw configError(error.message)
      throw error
    }
  }
  return keys
}

const wholeNumber = (name: string, value: string | undefined, fallback: number, least = 0): number => {
  if (value === undefined) return fallback
  if (!/^[0-9]{1,9}$/.test(value)) throw configError(`${name} ${shown(value)} is not a whole number`)
  if (Number(value) < least) throw configError(`${name} must be at least ${least}`)
  return Number(value)
}

/** The verifier the flags describe; throws a CliError (exit 3) for a configuration that cannot be used. */
export async function verifierFrom(flags: VerifyFlags): Promise<Verifier> {
  try {
    const policy = createPolicy({
      accounts: flags.allowAccount ?? [],
      anyAccount: flags.allowAnyAccount === true,
      regions: flags.allowRegion ?? [],
      images: flags.allowImage ?? [],
      ...(flags.maxAge === undefined ? {} : { maxAge: flags.maxAge }),
    })
    const trust = createTrustStore({ extra: readCertificates(flags.certs ?? []) })
    const ttlMs = flags.cacheTtl === undefined ? 5 * 60_000 : parseDuration(flags.cacheTtl)
    const cache = { maxEntries: wholeNumber('--cache-size', flags.cacheSize, 10_000), ttlMs }
    if (flags.checkRunning !== true && flags.ec2Endpoint !== undefined) throw configError('--ec2-endpoint needs --check-running')
    if (flags.ec2Endpoint !== undefined && !/^https?:\/\/[^/\s]+/.test(flags.ec2Endpoint))
      throw configError(
        `--ec2-endpoint ${shown(flags.ec2Endpoint)} is not an http(s) URL`,
        'give a URL such as https://ec2.eu-central-1.amazonaws.com',
      )
    if (/\s|:/.test(flags.username ?? ''))
      throw configError(
        `--username ${shown(flags.username ?? '')} holds a space or a colon, so no credential could carry it`,
        'give the user name the instances send',
      )
    let extraCheck: IdentityCheck | undefined
    if (flags.checkRunning === true) {
      const ec2 = await import('./verify-ec2.js')
      // --cache-size 0 turns off the running check's memory too: each login asks EC2.
      extraCheck = ec2.runningCheck(await ec2.loadEc2Sdk(), { endpoint: flags.ec2Endpoint, ttlMs, maxEntries: cache.maxEntries })
    }
    return createVerifier({ trust, policy, cache, username: flags.username ?? defaultUsername, ...(extraCheck ? { extraCheck } : {}) })
  } catch (error) {
    if (error instanceof PolicyError) throw configError(error.message, 'run iid-docker-auth verify --help for the policy options')
    throw error
  }
}

/** The fields a log line names: never the credential. */
export const describeIdentity = (identity: VerifiedIdentity): string =>
  `account ${identity.accountId} instance ${identity.instanceId} region ${identity.region} image ${identity.imageId} ` +
  `launched ${identity.pendingTime}`

/** One line on stderr for a verdict: denials always, allowed ones unless --quiet. */
export function logVerdict(verdict: Verdict, flags: VerifyFlags, io: CliIo, via: string): void {
  const line = (priority: number, text: string): void => io.stderr(logLine(priority, `iid-docker-auth: verify: ${text}`, io.journal))
  if (verdict.outcome === 'denied') {
    line(4, `denied${verdict.identity ? ` ${describeIdentity(verdict.identity)}` : ''} (${via}): ${verdict.reason}`)
  } else if (verdict.outcome === 'allowed' && flags.quiet !== true) {
    line(6, `allowed ${describeIdentity(verdict.identity)} (${via}${verdict.cached ? ', cached' : ''})`)
  } else if (verdict.outcome === 'other-user' && flags.verbose === true) {
    line(7, `not our user name (${via}): left to the next authenticator`)
  }
}

export const exitCodeOfVerdict = (verdict: Verdict): number =>
  verdict.outcome === 'allowed' ? ExitCode.ok : verdict.outcome === 'denied' ? ExitCode.verifyDenied : ExitCode.verifyNoMatch

/** docker_auth's ext_auth: one credential on stdin, the answer in the exit status. */
async function extAuth(flags: VerifyFlags, io: CliIo, stdin: NodeJS.ReadableStream): Promise<number> {
  const verifier = await verifierFrom(flags)
  const username = flags.username ?? defaultUsername
  const { bytes, tooLarge } = await readBounded(
    stdin,
    maxStdinBytes,
    stdinSeconds * 1000,
    'docker_auth writes the credential and closes stdin',
  )
  const input = bytes.toString('utf8')
  const credential = parseExtAuthInput(input)
  let verdict: Verdict
  if (credential === undefined || credential.username !== username) {
    // Our user name with nothing after it is ours to deny; anything else is for the next authenticator.
    verdict = input === username ? { outcome: 'denied', reason: 'the credential has no password' } : { outcome: 'other-user' }
  } else if (tooLarge) {
    verdict = { outcome: 'denied', reason: `the credential on stdin is over ${maxStdinBytes} bytes` }
  } else {
    verdict = await verifier.verify(credential.username, credential.password)
  }
  logVerdict(verdict, flags, io, 'ext_auth')
  return exitCodeOfVerdict(verdict)
}

export async function verify(flags: VerifyFlags, io: CliIo, stdin: NodeJS.ReadableStream = process.stdin): Promise<number> {
  // Reported here, not by the CLI: this file is a bundle of its own (dist/verify.cjs), whose CliError
  // is not the CLI bundle's class. Whatever is not a verdict is docker_auth's "error", 3.
  try {
    return await verifyMode(flags, io, stdin)
  } catch (error) {
    if (!(error instanceof CliError)) throw error
    reportError(error, loggerFor('normal', io))
    return ExitCode.verifyConfig
  }
}

async function verifyMode(flags: VerifyFlags, io: CliIo, stdin: NodeJS.ReadableStream): Promise<number> {
  if (flags.listen === undefined) return extAuth(flags, io, stdin)
  const verifier = await verifierFrom(flags)
  const { serve, parseListen } = await import('./verify-http.js')
  const address = parseListen(flags.listen)
  if (typeof address === 'string') throw configError(address)
  return serve(verifier, {
    ...address,
    realm: flags.realm ?? 'registry',
    // Node reads 0 as no limit at all.
    maxConnections: wholeNumber('--max-connections', flags.maxConnections, 1024, 1),
    log: (verdict, via) => logVerdict(verdict, flags, io, via),
    info: (text) => io.stderr(logLine(6, `iid-docker-auth: verify: ${text}`, io.journal)),
  })
}
