// The command line: parse, run, report, and map whatever happened to an exit code. `main` returns
// the code instead of exiting so tests can call it; src/main.ts exits.

import { userInfo } from 'node:os'
import { createRequire } from 'node:module'
import { Command, CommanderError, Option } from 'commander'
import { resolveConfigLocations } from './config-file.js'
import { CliError, ExitCode, exitCodeOf, exitCodeTable } from './errors.js'
import { fetchIdentity } from './imds.js'
import { type Logger, createLogger } from './log.js'
import { type Env, type WriteFlags, defaultTimeoutSeconds, envNames, resolveWriteOptions } from './options.js'
import { type WriteResult, runWrite } from './write-command.js'

export interface CliIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: Env
  readonly cwd: string
}

const processIo = (): CliIo => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
})

const version = (createRequire(import.meta.url)('../package.json') as { version: string }).version

/** Seconds to wait for another run of this tool that holds the lock on a config file. */
const lockTimeoutSeconds = (env: Env): number => {
  const value = env['IID_DOCKER_AUTH_LOCK_TIMEOUT']
  const n = value === undefined ? NaN : Number(value)
  return Number.isFinite(n) && n >= 0 ? n : 30
}

const helpFooter = `
Examples:
  systemd unit (ExecStart=):   iid-docker-auth --registry pierone.example.com --config /root/.docker/config.json
  cloud-init user-data:        npx --yes iid-docker-auth --registry pierone.example.com
  debugging by hand:           npx iid-docker-auth --registry pierone.example.com --dry-run --verbose
  several registries/files:    iid-docker-auth -r a.example.com,b.example.com:5000 -c /root/.docker/config.json -c /var/lib/kubelet/config.json

Environment (flags win):
  ${envNames.registries}, ${envNames.config} (comma-separated), ${envNames.username},
  ${envNames.signature}, ${envNames.stripNewlines} (true/false), ${envNames.endpoint}, ${envNames.timeout},
  ${envNames.json} (true/false), ${envNames.verbosity} (quiet/normal/verbose), IID_DOCKER_AUTH_LOCK_TIMEOUT (s, default 30);
  AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6, AWS_EC2_METADATA_DISABLED=true, DOCKER_CONFIG.

Exit codes:
${exitCodeTable.map(([code, meaning]) => `  ${String(code).padStart(2)}  ${meaning}`).join('\n')}
`

function summarize(result: WriteResult, dryRun: boolean, log: Logger, io: CliIo): void {
  for (const config of result.configs) {
    for (const w of config.warnings) log.warn(`${config.path}: ${w}`)
    const c = config.changes
    if (config.action === 'failed' || c === undefined) continue
    if (c.removed.length > 0) log.info(`${dryRun ? 'would remove' : 'removed'} competing key(s) ${c.removed.map((k) => JSON.stringify(k)).join(', ')} from ${config.path}`)
    const touched = [...c.added, ...c.updated]
    if (config.action === 'unchanged') log.info(`${config.path} already current`)
    else if (touched.length > 0) log.info(`${dryRun ? 'would write' : 'wrote'} ${touched.join(', ')} to ${config.path}`)
    if (dryRun && config.preview !== undefined) io.stdout(`# ${config.path} (${config.action === 'would-write' ? 'would be written' : 'unchanged'}; credentials redacted)\n${config.preview}`)
  }
}

function reportError(error: { message: string; hint?: string | undefined }, log: Logger): void {
  log.error(error.message)
  if (error.hint !== undefined) log.fix(error.hint)
}

/** The one JSON object that --json prints; never contains a credential. */
export function jsonReport(result: WriteResult, registries: readonly string[], endpoint: string, dryRun: boolean, started: number) {
  return {
    ok: result.exitCode === ExitCode.ok,
    exitCode: result.exitCode,
    command: 'write',
    dryRun,
    endpoint,
    registries,
    identity:
      result.identity === undefined
        ? null
        : {
            instanceId: result.identity.instanceId,
            accountId: result.identity.accountId,
            region: result.identity.region,
            availabilityZone: result.identity.availabilityZone ?? null,
          },
    configs: result.configs.map((c) => ({
      path: c.path,
      source: c.source,
      target: c.target ?? null,
      action: c.action,
      added: c.changes?.added ?? [],
      updated: c.changes?.updated ?? [],
      removed: c.changes?.removed ?? [],
      warnings: c.warnings,
      error: c.error === undefined ? null : { exitCode: c.error.exitCode, message: c.error.message, hint: c.error.hint ?? null },
    })),
    error: result.error === undefined ? null : { exitCode: result.error.exitCode, message: result.error.message, hint: result.error.hint ?? null },
    durationMs: Date.now() - started,
  }
}

async function write(flags: WriteFlags, io: CliIo): Promise<number> {
  const started = Date.now()
  const options = resolveWriteOptions(flags, io.env)
  const log = createLogger(options.verbosity, io.stderr)
  const locations = resolveConfigLocations(options.configPaths, io.env, io.cwd, () => userInfo().homedir)
  const result = await runWrite(options, locations, {
    log,
    lockTimeoutMs: lockTimeoutSeconds(io.env) * 1000,
    fetchIdentity: () => fetchIdentity({ endpoint: options.endpoint, signature: options.signature, timeoutMs: options.timeoutMs, log }),
  })
  summarize(result, options.dryRun, log, io)
  for (const config of result.configs) if (config.error !== undefined) reportError(config.error, log)
  if (result.error !== undefined && result.configs.length === 0) reportError(result.error, log)
  if (options.json) {
    io.stdout(`${JSON.stringify(jsonReport(result, options.registries.map((r) => r.key), options.endpoint, options.dryRun, started))}\n`)
  }
  return result.exitCode
}

function buildProgram(io: CliIo, run: (flags: WriteFlags) => void): Command {
  const program = new Command('iid-docker-auth')
    .description('Write an EC2 instance-identity credential (IMDSv2 document + PKCS7) into Docker config.json files, atomically.')
    .version(version, '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: (message, write) => write(`iid-docker-auth: ${message.replace(/^error: /, 'error: ')}`),
    })
    .showHelpAfterError('(run iid-docker-auth --help for usage)')

  const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]
  const writeCommand = program
    .command('write', { isDefault: true })
    .description('get the identity from IMDS and merge the credential into the config file(s) (the default command)')
    .addOption(new Option('-r, --registry <host[:port]>', `registry to authenticate; repeatable or comma-separated (env ${envNames.registries})`).argParser(collect))
    .addOption(
      new Option('-c, --config <file>', 'config file to merge into; repeatable (default $DOCKER_CONFIG/config.json, else <passwd home>/.docker/config.json)').argParser(collect),
    )
    .option('--username <name>', 'user name in the credential (default instance-identity-document)')
    .option('--signature <kind>', 'pkcs7 (default) or rsa2048')
    .option('--strip-newlines', 'send the PKCS7 as one line instead of verbatim')
    .option('--endpoint <url>', 'IMDS base URL (default $AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254)')
    .option('--timeout <seconds>', `overall deadline for getting the identity from IMDS (default ${defaultTimeoutSeconds})`)
    .option('--dry-run', 'print the resulting config file(s) with credentials redacted; write nothing')
    .option('--json', 'print one JSON object describing the outcome on stdout')
    .option('-q, --quiet', 'print errors only')
    .option('-v, --verbose', 'print each step')
    .addHelpText('after', helpFooter)
    .action((flags: WriteFlags) => run(flags))
  // The default command's options are what people look for in the top-level help.
  program.addHelpText('after', () => `\nThe default command, write:\n${writeCommand.helpInformation()}${helpFooter}`)
  return program
}

/** Runs the CLI with `argv` (process.argv layout) and returns the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let pending: Promise<number> = Promise.resolve(ExitCode.ok)
  const program = buildProgram(io, (flags) => {
    pending = write(flags, io)
  })
  try {
    await program.parseAsync([...argv])
    return await pending
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return ExitCode.ok
      return ExitCode.usage
    }
    const log = createLogger(argv.includes('--quiet') || argv.includes('-q') ? 'quiet' : 'normal', io.stderr)
    if (error instanceof CliError) {
      reportError(error, log)
      return error.exitCode
    }
    log.error(`unexpected error (a bug): ${error instanceof Error ? error.message : String(error)}`)
    if (argv.includes('--verbose') || argv.includes('-v')) io.stderr(`${error instanceof Error ? error.stack : ''}\n`)
    else log.error('run again with --verbose for the stack trace, and report it')
    return exitCodeOf(error)
  }
}
