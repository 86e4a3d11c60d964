// Exit codes and the one error type that carries them. Codes follow sysexits(3) so that `systemctl
// status` names them (64 USAGE, 65 DATAERR, 69 UNAVAILABLE, 71 OSERR, 73 CANTCREAT, 77 NOPERM, 78 CONFIG).

export const ExitCode = {
  ok: 0,
  unexpected: 1,
  /** docker-credential-iid `get` for a registry it does not serve: 1 is what the helper protocol expects. */
  credentialsNotFound: 1,
  usage: 64,
  imdsUnusable: 65,
  imdsUnavailable: 69,
  /** check --probe: the registry could not be asked (a service unavailable, as for IMDS). */
  registryUnavailable: 69,
  systemctlFailed: 71,
  cannotWrite: 73,
  registryRefused: 77,
  configUnusable: 78,
  /** verify (docker_auth ext_auth's contract): the credential is ours and refused. */
  verifyDenied: 1,
  /** verify: the user name is not ours; docker_auth asks its next authenticator. */
  verifyNoMatch: 2,
  /** verify: the configuration is unusable (flags, --certs); docker_auth reports an error. */
  verifyConfig: 3,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/** Documented meaning of each exit code, shown in --help; README's table is kept to the same codes by a test. */
export const exitCodeTable: ReadonlyArray<readonly [ExitCodeValue, string]> = [
  [ExitCode.ok, 'written, or already current'],
  [ExitCode.usage, 'usage error (bad flag, registry, endpoint or environment variable; install where the deb/rpm package owns the unit)'],
  [ExitCode.imdsUnusable, 'IMDS answered, but with unusable data until the deadline'],
  [
    ExitCode.imdsUnavailable,
    'IMDS or a registry unavailable (IMDS: deadline passed, disabled, 403, 404, not EC2; check --probe: a registry unreachable)',
  ],
  [ExitCode.systemctlFailed, 'systemctl failed or is missing (install, uninstall)'],
  [ExitCode.cannotWrite, 'cannot write the config file (permissions, read-only, full disk, lock held)'],
  [ExitCode.registryRefused, 'check --probe: a registry refused the credential'],
  [
    ExitCode.configUnusable,
    'an existing config file is unusable (invalid JSON, wrong types, not a regular file); ' +
      'for check: an entry is missing, stale or shadowed; for unit-condition: no registry is set yet',
  ],
  [ExitCode.unexpected, 'anything unexpected (a bug: please report it with --verbose output)'],
]

/**
 * An expected failure: a one-line message naming the problem, an optional fix, and the exit code.
 * Anything thrown that is not a CliError is a bug and exits 1.
 */
export class CliError extends Error {
  readonly exitCode: ExitCodeValue
  readonly hint: string | undefined

  constructor(exitCode: ExitCodeValue, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'CliError'
    this.exitCode = exitCode
    this.hint = options.hint
  }
}

export const usageError = (message: string, hint?: string): CliError =>
  new CliError(ExitCode.usage, message, hint === undefined ? {} : { hint })

/**
 * A value the user gave, quoted for a message, cut to its first 100 characters: an argument can be
 * any length, and a message that echoes it whole buries the problem (and floods the journal).
 */
export const shown = (value: string): string => clip(value, JSON.stringify)

/** The same cut without the quotes, for a name inside a message (`docker-credential-<name>`). */
export const clipped = (value: string): string => clip(value, (text) => text)

function clip(value: string, quote: (text: string) => string): string {
  const max = 100
  // Only the head is split into characters: the value may be megabytes of a config file.
  const head = [...value.slice(0, 2 * max)].slice(0, max).join('')
  if (head.length === value.length) return quote(value)
  const characters = value.length - (value.match(/[\ud800-\udbff][\udc00-\udfff]/g)?.length ?? 0)
  return `${quote(head)}…(${characters} characters)`
}

/** The one place that maps anything thrown to an exit code. */
export function exitCodeOf(error: unknown): ExitCodeValue {
  return error instanceof CliError ? error.exitCode : ExitCode.unexpected
}

/** errno code of a Node system error, if any. */
export function errnoOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code
    if (typeof code === 'string') return code
  }
  return undefined
}
