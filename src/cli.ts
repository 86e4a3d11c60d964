// The command line: parse, run, report, and map whatever happened to an exit code. `main` returns
// the code instead of exiting so tests can call it; src/main.ts exits.

import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
import { userInfo } from 'node:os'
import { join, resolve } from 'node:path'
import { Command, CommanderError, Option } from 'commander'
import { type ConfigLocation, resolveConfigLocations } from './config-file.js'
import type { ConfigOutcome, ErrorInfo } from './config-update.js'
import { CliError, ExitCode, exitCodeOf, exitCodeTable, usageError } from './errors.js'
import { defaultUsername } from './identity.js'
import { fetchIdentity } from './imds.js'
import { type Layout, type Step, defaultLayout, describeStep, planInstall, planUninstall, readInstalledState, runSteps, unitTemplate } from './install-command.js'
import { type Logger, createLogger, stderrIsJournal } from './log.js'
import { type Env, type OutputFlags, type Verbosity, type WriteFlags, defaultTimeoutSeconds, envNames, installSettings, resolveOutput, resolveWriteOptions } from './options.js'
import { parseRegistryList } from './registry.js'
import { runRemove } from './remove-command.js'
import { environmentFilePath, rootHome, unitName } from './systemd-unit.js'
import { type CheckLine, checkExitCode, configFacts, configLines, imdsLines, probeCredential, probeLine, unitEnvironment, unitLines } from './check-command.js'
import { probeRegistry } from './probe.js'
import { runSystemctl, showUnit } from './systemctl.js'
import { buildAuth, type InstanceIdentity } from './identity.js'
import { runWrite } from './write-command.js'

export interface CliIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: Env
  readonly cwd: string
  /** stderr is the journal stream (prefix lines with their priority). */
  readonly journal: boolean
}

const processIo = (): CliIo => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
  journal: stderrIsJournal(process.env['JOURNAL_STREAM']),
})

const loggerFor = (verbosity: Verbosity, io: CliIo): Logger => createLogger(verbosity, io.stderr, io.journal)

const version = (createRequire(import.meta.url)('../package.json') as { version: string }).version

/** Seconds to wait for another run of this tool that holds the lock on a config file. */
const lockTimeoutMs = (env: Env): number => {
  const value = env['IID_DOCKER_AUTH_LOCK_TIMEOUT']
  const n = value === undefined ? NaN : Number(value)
  return (Number.isFinite(n) && n >= 0 ? n : 30) * 1000
}

const helpFooter = `
Examples:
  systemd unit (ExecStart=):   iid-docker-auth --registry pierone.example.com --config /root/.docker/config.json
  cloud-init user-data:        npx --yes iid-docker-auth --registry pierone.example.com
  debugging by hand:           npx iid-docker-auth --registry pierone.example.com --dry-run --verbose
  several registries/files:    iid-docker-auth -r a.example.com,b.example.com:5000 -c /root/.docker/config.json -c /var/lib/kubelet/config.json
  boot unit for this machine:  iid-docker-auth install --registry pierone.example.com --now
  before baking an AMI:        iid-docker-auth remove --registry pierone.example.com
  what is wrong (3 a.m.):      iid-docker-auth check --probe

Environment (flags win):
  ${envNames.registries}, ${envNames.config} (comma-separated), ${envNames.username},
  ${envNames.signature}, ${envNames.stripNewlines} (true/false), ${envNames.endpoint}, ${envNames.timeout},
  ${envNames.json} (true/false), ${envNames.verbosity} (quiet/normal/verbose), IID_DOCKER_AUTH_LOCK_TIMEOUT (s, default 30),
  ${envNames.attemptTimeout} (s per IMDS request, default 2);
  AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6, AWS_EC2_METADATA_DISABLED=true, DOCKER_CONFIG.

Exit codes:
${exitCodeTable.map(([code, meaning]) => `  ${String(code).padStart(2)}  ${meaning}`).join('\n')}
`

function reportError(error: { message: string; hint?: string | undefined }, log: Logger): void {
  log.error(error.message)
  if (error.hint !== undefined) log.fix(error.hint)
}

const jsonError = (error: ErrorInfo | undefined) => (error === undefined ? null : { exitCode: error.exitCode, message: error.message, hint: error.hint ?? null })

const jsonConfigs = (configs: readonly ConfigOutcome[]) =>
  configs.map((c) => ({
    path: c.path,
    source: c.source,
    target: c.target ?? null,
    action: c.action,
    added: c.changes?.added ?? [],
    updated: c.changes?.updated ?? [],
    removed: c.changes?.removed ?? [],
    warnings: c.warnings,
    error: jsonError(c.error),
  }))

/** Human lines for each config file: warnings, errors, what changed; and the --dry-run preview. */
function reportConfigs(configs: readonly ConfigOutcome[], dryRun: boolean, command: 'write' | 'remove', log: Logger, io: CliIo): void {
  const would = (done: string, planned: string): string => (dryRun ? planned : done)
  for (const config of configs) {
    for (const w of config.warnings) log.warn(`${config.path}: ${w}`)
    if (config.error !== undefined) reportError(config.error, log)
    const c = config.changes
    if (c === undefined) continue
    if (config.action === 'unchanged') {
      log.info(command === 'write' ? `${config.path} already current` : `${config.path} has no entry of this tool to remove`)
    } else if (command === 'remove') {
      log.info(`${would('removed', 'would remove')} ${c.removed.join(', ')} from ${config.path}`)
    } else {
      if (c.removed.length > 0) log.info(`${would('removed', 'would remove')} competing key(s) ${c.removed.map((k) => JSON.stringify(k)).join(', ')} from ${config.path}`)
      const touched = [...c.added, ...c.updated]
      if (touched.length > 0) log.info(`${would('wrote', 'would write')} ${touched.join(', ')} to ${config.path}`)
    }
    if (dryRun && config.preview !== undefined) io.stdout(`# ${config.path} (${config.action === 'would-write' ? 'would be written' : 'unchanged'}; credentials redacted)\n${config.preview}`)
  }
}

function locationsFor(flags: { config?: string[] }, io: CliIo): ConfigLocation[] {
  const explicit = flags.config?.length ? flags.config : (io.env[envNames.config] ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  return resolveConfigLocations(explicit, io.env, io.cwd, () => userInfo().homedir)
}

async function write(flags: WriteFlags, io: CliIo): Promise<number> {
  const started = Date.now()
  const options = resolveWriteOptions(flags, io.env)
  const log = loggerFor(options.verbosity, io)
  const result = await runWrite(options, locationsFor(flags, io), {
    log,
    lockTimeoutMs: lockTimeoutMs(io.env),
    fetchIdentity: () => fetchIdentity({ endpoint: options.endpoint, signature: options.signature, timeoutMs: options.timeoutMs, attemptTimeoutMs: options.attemptTimeoutMs, log }),
  })
  reportConfigs(result.configs, options.dryRun, 'write', log, io)
  if (result.error !== undefined && result.configs.length === 0) reportError(result.error, log)
  if (options.json) {
    const id = result.identity
    const report = {
      ok: result.exitCode === ExitCode.ok,
      exitCode: result.exitCode,
      command: 'write',
      dryRun: options.dryRun,
      endpoint: options.endpoint,
      registries: options.registries.map((r) => r.key),
      identity: id === undefined ? null : { instanceId: id.instanceId, accountId: id.accountId, region: id.region, availabilityZone: id.availabilityZone ?? null },
      configs: jsonConfigs(result.configs),
      error: jsonError(result.error),
      durationMs: Date.now() - started,
    }
    io.stdout(`${JSON.stringify(report)}\n`)
  }
  return result.exitCode
}

interface RemoveFlags extends OutputFlags {
  registry?: string[]
  config?: string[]
  username?: string
  dryRun?: boolean
}

async function remove(flags: RemoveFlags, io: CliIo): Promise<number> {
  const output = resolveOutput(flags, io.env)
  const log = loggerFor(output.verbosity, io)
  const registryValues = flags.registry?.length ? flags.registry : io.env[envNames.registries] ? [io.env[envNames.registries]!] : []
  if (registryValues.length === 0) throw usageError('no registry given', `pass --registry <host[:port]> (repeatable) or set ${envNames.registries}`)
  const username = flags.username ?? io.env[envNames.username] ?? defaultUsername
  const result = await runRemove({ registries: parseRegistryList(registryValues), username, dryRun: flags.dryRun ?? false }, locationsFor(flags, io), {
    log,
    lockTimeoutMs: lockTimeoutMs(io.env),
  })
  reportConfigs(result.configs, flags.dryRun ?? false, 'remove', log, io)
  if (output.json) {
    io.stdout(`${JSON.stringify({ ok: result.exitCode === ExitCode.ok, exitCode: result.exitCode, command: 'remove', dryRun: flags.dryRun ?? false, configs: jsonConfigs(result.configs), error: jsonError(result.error) })}\n`)
  }
  return result.exitCode
}

interface CheckFlags extends WriteFlags {
  probe?: boolean
}

const checkTimeoutSeconds = 10

async function check(flags: CheckFlags, io: CliIo): Promise<number> {
  const started = Date.now()
  // A bare `check` on an instance uses the unit's settings: flags, then the environment, then the file.
  const env: Env = { ...unitEnvironment(), ...io.env }
  const registryValues = flags.registry?.length ? flags.registry : env[envNames.registries] ? [env[envNames.registries]!] : []
  const options = resolveWriteOptions({ ...flags, registry: registryValues.length ? registryValues : ['placeholder.invalid'], timeout: flags.timeout ?? String(checkTimeoutSeconds) }, env)
  const registries = registryValues.length ? options.registries.map((r) => r.key) : []
  const log = loggerFor(options.verbosity, io)
  const lines: CheckLine[] = []
  const emit = (line: CheckLine): void => {
    lines.push(line)
    if (options.verbosity === 'quiet' && line.verdict === 'ok') return
    const priority = { ok: 6, warn: 4, fail: 3 }[line.verdict]
    const prefix = io.journal ? `<${priority}>` : ''
    io.stderr(`${prefix}${line.verdict.padEnd(5)} ${line.area.padEnd(9)} ${line.message}\n`)
    if (line.fix !== undefined) io.stderr(`${prefix}${' '.repeat(16)}fix: ${line.fix}\n`)
  }
  if (registries.length === 0) emit({ area: 'config', verdict: 'warn', message: 'no registry given, so no entry was checked', fix: `pass --registry <host[:port]> or set ${envNames.registries}`, exitCode: undefined })

  let identity: InstanceIdentity | undefined
  if (options.imdsDisabled) {
    emit({ area: 'imds', verdict: 'fail', message: 'AWS_EC2_METADATA_DISABLED=true: IMDS not asked', fix: 'unset AWS_EC2_METADATA_DISABLED', exitCode: ExitCode.imdsUnavailable })
  } else {
    const t0 = Date.now()
    try {
      identity = await fetchIdentity({ endpoint: options.endpoint, signature: options.signature, timeoutMs: options.timeoutMs, attemptTimeoutMs: options.attemptTimeoutMs, log })
      imdsLines({ endpoint: options.endpoint, ms: Date.now() - t0, identity, error: undefined }).forEach(emit)
    } catch (error) {
      if (!(error instanceof CliError)) throw error
      imdsLines({ endpoint: options.endpoint, ms: Date.now() - t0, identity: undefined, error }).forEach(emit)
    }
  }
  const expected = identity === undefined ? undefined : buildAuth(options.username, identity.signature, options.stripNewlines)
  const writeHint = (registry: string): string => `iid-docker-auth --registry ${registry}`
  const facts = []
  for (const location of locationsFor({ config: flags.config ?? (env[envNames.config] ? env[envNames.config]!.split(',') : undefined) }, { ...io, env })) {
    const f = await configFacts(location)
    facts.push(f)
    configLines(f, registries, options.username, expected, (r) => `${writeHint(r)} --config ${location.path}`).forEach(emit)
  }
  unitLines(existsSync('/run/systemd/system') ? await showUnit(unitName, ['LoadState', 'UnitFileState', 'ActiveState', 'Result', 'ExecMainStatus']) : undefined).forEach(emit)
  if (flags.probe) {
    for (const registry of registries) {
      const credential = probeCredential(facts, registry, identity, options.username, options.stripNewlines)
      if (credential === undefined) {
        emit({ area: 'probe', verdict: 'fail', message: `${registry}: no credential to probe with (no entry, and IMDS failed)`, fix: 'fix the lines above', exitCode: ExitCode.imdsUnavailable })
        continue
      }
      const decoded = Buffer.from(credential.auth, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      emit(probeLine(registry, await probeRegistry(registry, decoded.slice(0, colon), decoded.slice(colon + 1)), credential.from))
    }
  }
  const exitCode = checkExitCode(lines)
  if (options.json) {
    const report = {
      ok: exitCode === ExitCode.ok,
      exitCode,
      command: 'check',
      endpoint: options.endpoint,
      registries,
      identity: identity === undefined ? null : { instanceId: identity.instanceId, accountId: identity.accountId, region: identity.region, availabilityZone: identity.availabilityZone ?? null },
      checks: lines.map((l) => ({ area: l.area, verdict: l.verdict, message: l.message, fix: l.fix ?? null, exitCode: l.exitCode ?? null })),
      durationMs: Date.now() - started,
    }
    io.stdout(`${JSON.stringify(report)}\n`)
  }
  return exitCode
}

interface InstallFlags extends WriteFlags {
  root?: string
  unitDir?: string
  enable?: boolean
  now?: boolean
  force?: boolean
  node?: string
  cli?: string
}

const jsonStep = (step: Step) =>
  step.kind === 'systemctl' ? { action: step.kind, args: step.args } : { action: step.kind, path: step.path, ...(step.kind === 'keep' ? { reason: step.reason } : {}) }

/** Plans, prints or runs the steps, and reports them; shared by install and uninstall. */
async function applySteps(command: string, layout: Layout, steps: readonly Step[], flags: OutputFlags & { dryRun?: boolean }, io: CliIo): Promise<number> {
  const output = resolveOutput(flags, io.env)
  const log = loggerFor(output.verbosity, io)
  const done: Step[] = []
  let error: ErrorInfo | undefined
  if (flags.dryRun) {
    for (const step of steps) log.info(describeStep(step, true))
  } else {
    if (steps.length === 0) log.info('nothing is installed')
    try {
      await runSteps(steps, runSystemctl, log, (s) => done.push(s))
    } catch (e) {
      if (!(e instanceof CliError)) throw e
      error = { exitCode: e.exitCode, message: e.message, hint: e.hint }
      reportError(error, log)
    }
  }
  const exitCode = error?.exitCode ?? ExitCode.ok
  if (output.json) {
    io.stdout(
      `${JSON.stringify({ ok: exitCode === 0, exitCode, command, dryRun: flags.dryRun ?? false, root: layout.root ?? null, steps: (flags.dryRun ? steps : done).map(jsonStep), error: jsonError(error) })}\n`,
    )
  }
  return exitCode
}

function layoutFrom(flags: { root?: string; unitDir?: string; now?: boolean }, io: CliIo): Layout {
  if (flags.root !== undefined && flags.now) throw usageError('--now cannot start a unit in an alternate --root', 'boot the image, or drop --now')
  if (flags.unitDir !== undefined && !flags.unitDir.startsWith('/')) throw usageError(`--unit-dir ${JSON.stringify(flags.unitDir)} must be absolute (inside --root when given)`, 'e.g. --unit-dir /etc/systemd/system')
  return defaultLayout(flags.root === undefined ? undefined : resolve(io.cwd, flags.root), flags.unitDir)
}

async function install(flags: InstallFlags, io: CliIo): Promise<number> {
  resolveOutput(flags, io.env)
  const layout = layoutFrom(flags, io)
  const passwd = (() => {
    try {
      return readFileSync(join(layout.root ?? '/', 'etc', 'passwd'), 'utf8')
    } catch {
      return undefined
    }
  })()
  const configFiles = flags.config?.length ? flags.config : [join(rootHome(passwd), '.docker', 'config.json')]
  const cli = flags.cli ?? realpathSync(process.argv[1] ?? '')
  const node = flags.node ?? process.execPath
  const log = loggerFor(resolveOutput(flags, io.env).verbosity, io)
  if (/\/_npx\//.test(cli)) log.warn(`the unit would run ${cli} from npx's cache, which npm may delete; install the package (npm install -g iid-docker-auth) and run install from there, or pass --cli`)
  for (const path of [node, cli]) {
    if (/^\/(var\/)?tmp\//.test(path)) log.warn(`the unit runs with PrivateTmp=yes and cannot see ${path}; install node and the package outside /tmp, or pass --node/--cli`)
  }
  const request = { layout, paths: { node, cli, configFiles }, settings: installSettings(flags, configFiles), enable: flags.enable ?? true, now: flags.now ?? false, force: flags.force ?? false }
  const steps = planInstall(request, await readInstalledState(layout), unitTemplate())
  return applySteps('install', layout, steps, flags, io)
}

async function uninstall(flags: InstallFlags, io: CliIo): Promise<number> {
  resolveOutput(flags, io.env)
  const layout = layoutFrom(flags, io)
  return applySteps('uninstall', layout, planUninstall(layout, await readInstalledState(layout), flags.force ?? false), flags, io)
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

function addRegistryAndConfig(cmd: Command): Command {
  return cmd
    .addOption(new Option('-r, --registry <host[:port]>', `registry; repeatable or comma-separated (env ${envNames.registries})`).argParser(collect))
    .addOption(new Option('-c, --config <file>', 'config file; repeatable (default $DOCKER_CONFIG/config.json, else <passwd home>/.docker/config.json)').argParser(collect))
}

function addCredentialOptions(cmd: Command): Command {
  return addRegistryAndConfig(cmd)
    .option('--username <name>', 'user name in the credential (default instance-identity-document)')
    .option('--signature <kind>', 'pkcs7 (default) or rsa2048')
    .option('--strip-newlines', 'send the PKCS7 as one line instead of verbatim')
    .option('--endpoint <url>', 'IMDS base URL (default $AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254)')
    .option('--timeout <seconds>', `overall deadline for getting the identity from IMDS (default ${defaultTimeoutSeconds})`)
}

function addOutputOptions(cmd: Command, dryRun: string | undefined): Command {
  if (dryRun !== undefined) cmd.option('--dry-run', dryRun)
  return cmd
    .option('--json', 'print one JSON object describing the outcome on stdout')
    .option('-q, --quiet', 'print errors only')
    .option('-v, --verbose', 'print each step')
}

function addLayoutOptions(cmd: Command): Command {
  return cmd
    .option('--root <dir>', 'operate on an image root instead of this machine (systemctl --root)')
    .option('--unit-dir <dir>', 'unit directory, inside the root (default /etc/systemd/system)')
    .option('--force', 'replace (or remove) files that were edited by hand or not written by this tool')
}

function buildProgram(io: CliIo, run: (action: Promise<number>) => void): Command {
  const program = new Command('iid-docker-auth')
    .description('Write an EC2 instance-identity credential (IMDSv2 document + PKCS7) into Docker config.json files, atomically.')
    .version(version, '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: (message, write) => write(`iid-docker-auth: ${message}`) })
    .showHelpAfterError('(run iid-docker-auth --help for usage)')

  const writeCommand = addOutputOptions(
    addCredentialOptions(program.command('write', { isDefault: true }).description('get the identity from IMDS and merge the credential into the config file(s) (the default command)')),
    'print the resulting config file(s) with credentials redacted; write nothing',
  )
    .addHelpText('after', helpFooter)
    .action((flags: WriteFlags) => run(write(flags, io)))

  addOutputOptions(
    addLayoutOptions(
      addCredentialOptions(program.command('install').description('install, enable (and with --now start) the boot unit, with its environment file from these options')),
    )
      .option('--no-enable', 'install the unit without enabling it')
      .option('--now', 'also start it now')
      .option('--node <path>', 'node binary for ExecStart (default: the one running)')
      .option('--cli <path>', 'CLI script for ExecStart (default: the one running)'),
    'print the steps; change nothing',
  )
    .addHelpText('after', helpFooter)
    .action((flags: InstallFlags) => run(install(flags, io)))

  addOutputOptions(
    addCredentialOptions(program.command('check').description('report what is true now (IMDS, identity, config files, the unit); writes nothing')).option(
      '--probe',
      'also ask each registry whether it accepts the credential (GET /v2/ and its token realm)',
    ),
    undefined,
  )
    .addHelpText('after', `\nEach line: ok, warn or fail, and a fix for what is not ok. Exit 0 when nothing fails, else the code of the first failure.\nWithout --registry/--config, check uses IID_DOCKER_AUTH_* variables, then ${environmentFilePath}. Its IMDS deadline defaults to ${checkTimeoutSeconds} s.\n${helpFooter}`)
    .action((flags: CheckFlags) => run(check(flags, io)))

  addOutputOptions(addLayoutOptions(program.command('uninstall').description('disable and remove exactly what install created')), 'print the steps; change nothing')
    .addHelpText('after', helpFooter)
    .action((flags: InstallFlags) => run(uninstall(flags, io)))

  addOutputOptions(
    addRegistryAndConfig(program.command('remove').description("delete this tool's entries from the config file(s), e.g. before baking an image")).option(
      '--username <name>',
      'only entries with this user name are ours (default instance-identity-document)',
    ),
    'print the resulting config file(s) with credentials redacted; write nothing',
  )
    .addHelpText('after', helpFooter)
    .action((flags: RemoveFlags) => run(remove(flags, io)))

  // The default command's options are what people look for in the top-level help.
  program.addHelpText('after', () => `\nThe default command, write:\n${writeCommand.helpInformation()}${helpFooter}`)
  return program
}

/** Runs the CLI with `argv` (process.argv layout) and returns the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let pending: Promise<number> = Promise.resolve(ExitCode.ok)
  const program = buildProgram(io, (action) => {
    pending = action
  })
  try {
    await program.parseAsync([...argv])
    return await pending
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return ExitCode.ok
      return ExitCode.usage
    }
    const log = loggerFor(argv.includes('--quiet') || argv.includes('-q') ? 'quiet' : 'normal', io)
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
