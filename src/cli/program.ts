// The command line: parse, run, report, and map whatever happened to an exit code. `main` returns
// the code instead of exiting so tests can call it; src/main.ts exits. The commands off the boot
// path (check, install, uninstall, remove) are imported when used.

import { Command, CommanderError, Option } from 'commander'
import type { CheckFlags } from '../commands/check.js'
import type { InstallFlags } from '../commands/install.js'
import { prepareDirs } from '../commands/prepare-dirs.js'
import type { RemoveFlags } from '../commands/remove.js'
import { write } from '../commands/write.js'
import { CliError, ExitCode, exitCodeOf, shown, usageError } from '../errors.js'
import { environmentFilePath } from '../systemd/names.js'
import { helpFooter } from './help.js'
import { type CliIo, loggerFor, stderrIsJournal } from './io.js'
import { addKubeletCommands } from './kubelet-commands.js'
import { addVerifyCommand, verifyFailure } from './verify-command.js'
import { logLine } from '../log.js'
import { addCredentialOptions, addLayoutOptions, addOutputOptions, addRegistryAndConfig, collect } from './options.js'
import type { OutputFlags, SettingFlags } from '../settings/settings.js'
import { checkTimeoutSeconds, envNames, parseBoolean } from '../settings/values.js'
import { type JsonCommand, failureReport, reportError } from './report.js'
import { versionLine } from './version.js'
import { monotonicMs } from '../clock.js'

export type { CliIo } from './io.js'

/**
 * Output for a real run. The stream is made at the first write, so a run with nothing to say (a
 * quiet boot) never sets one up. A reader that went away (`| head`) ends the run as it would have
 * ended (exit 0 for stdout); stderr failing leaves nowhere to report anything.
 */
function writeTo(stream: () => NodeJS.WriteStream, onBrokenPipe: () => void): (text: string) => void {
  let opened: NodeJS.WriteStream | undefined
  return (text) => {
    if (opened === undefined) {
      opened = stream()
      opened.on('error', onBrokenPipe)
    }
    opened.write(text)
  }
}

/** process.cwd() throws once the working directory is deleted; only a relative path needs it. */
function workingDirectory(): string | undefined {
  try {
    return process.cwd()
  } catch {
    return undefined
  }
}

const processIo = (): CliIo => ({
  stdout: writeTo(
    () => process.stdout,
    () => process.exit(0),
  ),
  stderr: writeTo(
    () => process.stderr,
    () => {},
  ),
  env: process.env,
  cwd: workingDirectory(),
  journal: stderrIsJournal(process.env['JOURNAL_STREAM']),
})

const commandNames = [
  'write',
  'check',
  'install',
  'uninstall',
  'remove',
  'prepare-dirs',
  'kubelet-credential-provider',
  'kubelet-config',
  'verify',
]

/** Edit distance (insertions, deletions, substitutions, adjacent swaps). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1)
    }
  }
  return d[a.length]![b.length]!
}

function notACommand(word: string): CliError {
  const nearest =
    word.length > 100
      ? undefined
      : commandNames.map((name) => ({ name, d: distance(word.toLowerCase(), name) })).sort((x, y) => x.d - y.d)[0]
  const suggestion =
    nearest !== undefined && nearest.d <= 2 ? `did you mean \`${nearest.name}\`?` : `the commands are ${commandNames.join(', ')}`
  return usageError(`${shown(word)} is not a command; ${suggestion}`, 'run iid-docker-auth --help for usage')
}

function buildProgram(io: CliIo, run: (action: Promise<number>) => void): Command {
  const program = new Command('iid-docker-auth')
    .description('Write an EC2 instance-identity credential (IMDSv2 document + PKCS7) into Docker config.json files, atomically.')
    .version(versionLine, '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      // commander's own errors (unknown option, missing value) as every other error: one line, a fix, the journal's priority.
      outputError: (message) => {
        io.stderr(logLine(3, `iid-docker-auth: error: ${message.trim().replace(/^error: /, '')}`, io.journal))
        io.stderr(logLine(3, 'iid-docker-auth: fix: run iid-docker-auth --help (or <command> --help) for the options', io.journal))
      },
    })

  const writeCommand = addOutputOptions(
    addCredentialOptions(
      program
        .command('write', { isDefault: true })
        .description('get the identity from IMDS and merge the credential into the config file(s) (the default command)'),
    ),
    'print, per file, the keys that would change and its mode and owner; write nothing',
  )
    .addHelpText('after', helpFooter)
    // write is the default command, so a mistyped command name arrives here as an operand.
    .allowExcessArguments(true)
    .action((flags: SettingFlags, command: Command) =>
      run(command.args.length > 0 ? Promise.reject(notACommand(command.args[0]!)) : write(flags, io)),
    )
  program
    .command('prepare-dirs')
    .description(
      "create each config file's missing directory, owned by the owner of the directory it is created in " +
        '(the unit runs this before its sandbox)',
    )
    .addOption(new Option('-c, --config <file>', 'config file; repeatable (default as for write)').argParser(collect))
    .option('-q, --quiet', 'print errors only')
    .option('-v, --verbose', 'print each step')
    .action((flags: { config?: string[] } & OutputFlags) => run(prepareDirs(flags, io)))

  // The packaged unit's ExecCondition (src/systemd/package-unit.ts); not for people, so not in --help.
  program
    .command('unit-condition', { hidden: true })
    .action(() => run(import('../commands/unit-condition.js').then((m) => m.unitCondition(io))))

  addOutputOptions(
    addLayoutOptions(
      addCredentialOptions(
        program
          .command('install')
          .description('install, enable (and with --now start) the boot unit, with its environment file from these options'),
      ),
    )
      .option('--no-enable', 'install the unit without enabling it')
      .option('--now', 'also start it now')
      .option('--node <path>', 'node binary for ExecStart (default: the one running)')
      .option('--cli <path>', 'CLI script for ExecStart (default: the one running)')
      .option(
        '--credential-helper',
        'instead of the boot unit: write the environment file and map each registry to docker-credential-iid (credHelpers) ' +
          'in the config file(s)',
      ),
    'print the steps; change nothing',
  )
    .addHelpText('after', helpFooter)
    .action((flags: InstallFlags) => run(import('../commands/install.js').then((m) => m.install(flags, io))))

  addOutputOptions(
    addCredentialOptions(
      program.command('check').description('report what is true now (IMDS, identity, config files, the unit); writes nothing'),
      checkTimeoutSeconds,
    ).option('--probe', 'also ask each registry whether it accepts the credential (GET /v2/ and its token realm)'),
    undefined,
  )
    .addHelpText(
      'after',
      '\nEach line: ok, warn or fail, and a fix for what is not ok. Exit 0 when nothing fails, else the code of the first failure.\n' +
        `Without --registry/--config, check uses IID_DOCKER_AUTH_* variables, then ${environmentFilePath}. ` +
        `Its IMDS deadline defaults to ${checkTimeoutSeconds} s.\n${helpFooter}`,
    )
    .action((flags: CheckFlags) => run(import('../commands/check.js').then((m) => m.check(flags, io))))

  addOutputOptions(
    addLayoutOptions(program.command('uninstall').description('disable and remove exactly what install created')),
    'print the steps; change nothing',
  )
    .addHelpText('after', helpFooter)
    .action((flags: InstallFlags) => run(import('../commands/install.js').then((m) => m.uninstall(flags, io))))

  addOutputOptions(
    addRegistryAndConfig(
      program.command('remove').description("delete this tool's entries from the config file(s), e.g. before baking an image"),
    ).option('--username <name>', 'only entries with this user name are ours (default instance-identity-document)'),
    'print, per file, the keys that would change and its mode and owner; write nothing',
  )
    .addHelpText('after', helpFooter)
    .action((flags: RemoveFlags) => run(import('../commands/remove.js').then((m) => m.remove(flags, io))))

  addKubeletCommands(program, io, run)
  addVerifyCommand(program, io, run)

  // The default command's options are what people look for in the top-level help.
  program.addHelpText('after', () => `\nThe default command, write:\n${writeCommand.helpInformation()}${helpFooter}`)
  return program
}

/**
 * Whether --json (or IID_DOCKER_AUTH_JSON) asked for the one object on stdout, read from argv for a
 * run that failed before its flags were parsed.
 */
function jsonRequested(argv: readonly string[], env: CliIo['env']): boolean {
  const end = argv.indexOf('--')
  if ((end < 0 ? argv : argv.slice(0, end)).includes('--json')) return true
  const value = env[envNames.json]
  try {
    return value !== undefined && parseBoolean(envNames.json, value)
  } catch {
    return false
  }
}

const jsonCommands: readonly string[] = ['write', 'check', 'remove', 'install', 'uninstall'] satisfies readonly JsonCommand[]
const isJsonCommand = (name: string): name is JsonCommand => jsonCommands.includes(name)

/** Runs the CLI with `argv` (process.argv layout) and returns the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const started = monotonicMs()
  let pending: Promise<number> = Promise.resolve(ExitCode.ok)
  // What was printed on stdout: a command that already printed its --json object must not get a second.
  let printed = false
  const tracked: CliIo = {
    ...io,
    stdout: (text) => {
      printed = true
      io.stdout(text)
    },
  }
  let command: string = 'write'
  const program = buildProgram(tracked, (action) => {
    pending = action
  })
  program.hook('preSubcommand', (_, sub) => {
    command = sub.name()
  })
  const args = argv.slice(2)
  const json = jsonRequested(args, io.env)
  // Every outcome that did not print its own --json object prints one here, in the command's schema.
  const reportJson = (exitCode: number, error: { message: string; hint?: string | undefined }): number => {
    // Only the commands with a --json schema; the kubelet commands' stdout is their protocol.
    if (json && !printed && isJsonCommand(command))
      io.stdout(`${JSON.stringify(failureReport(command, exitCode, error, args.includes('--dry-run'), monotonicMs() - started))}\n`)
    return exitCode
  }
  try {
    await program.parseAsync([...argv])
    return await pending
  } catch (error) {
    if (command === 'verify') return verifyFailure(error, io)
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help')
        return ExitCode.ok
      return reportJson(ExitCode.usage, {
        message: error.message.replace(/^error: /, ''),
        hint: `run iid-docker-auth ${command === 'write' ? '' : `${command} `}--help for usage`,
      })
    }
    const log = loggerFor(args.includes('--quiet') || args.includes('-q') ? 'quiet' : 'normal', io)
    if (error instanceof CliError) {
      reportError(error, log)
      return reportJson(error.exitCode, error)
    }
    const message = `unexpected error (a bug): ${error instanceof Error ? error.message : String(error)}`
    log.error(message)
    if (args.includes('--verbose') || args.includes('-v')) io.stderr(`${error instanceof Error ? error.stack : ''}\n`)
    else log.error('run again with --verbose for the stack trace, and report it')
    return reportJson(exitCodeOf(error), { message, hint: 'run again with --verbose for the stack trace, and report it' })
  }
}
