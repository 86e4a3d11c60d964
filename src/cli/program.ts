// The command line: parse, run, report, and map whatever happened to an exit code. `main` returns
// the code instead of exiting so tests can call it; src/main.ts exits. The commands off the boot
// path (check, install, uninstall, remove) are imported when used.

import { Command, CommanderError, Option } from 'commander'
import type { CheckFlags } from '../commands/check.js'
import type { InstallFlags } from '../commands/install.js'
import { prepareDirs } from '../commands/prepare-dirs.js'
import type { RemoveFlags } from '../commands/remove.js'
import { write } from '../commands/write.js'
import { CliError, ExitCode, exitCodeOf } from '../errors.js'
import { environmentFilePath } from '../systemd/names.js'
import { helpFooter } from './help.js'
import { type CliIo, loggerFor } from './io.js'
import { stderrIsJournal } from './log.js'
import { type OutputFlags, type WriteFlags, checkTimeoutSeconds, defaultTimeoutSeconds, envNames } from './options.js'
import { reportError } from './report.js'
import { version } from './version.js'

export type { CliIo } from './io.js'

/**
 * Output for a real run. A reader that went away (`| head`) ends the run as it would have ended
 * (exit 0 for stdout); stderr failing leaves nowhere to report anything.
 */
function writeTo(stream: NodeJS.WriteStream, onBrokenPipe: () => void): (text: string) => void {
  stream.on('error', onBrokenPipe)
  return (text) => {
    stream.write(text)
  }
}

const processIo = (): CliIo => ({
  stdout: writeTo(process.stdout, () => process.exit(0)),
  stderr: writeTo(process.stderr, () => {}),
  env: process.env,
  cwd: process.cwd(),
  journal: stderrIsJournal(process.env['JOURNAL_STREAM']),
})

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
  program
    .command('prepare-dirs')
    .description("create each config file's missing directory, owned by the owner of the directory it is created in (the unit runs this before its sandbox)")
    .addOption(new Option('-c, --config <file>', 'config file; repeatable (default as for write)').argParser(collect))
    .option('-q, --quiet', 'print errors only')
    .option('-v, --verbose', 'print each step')
    .action((flags: { config?: string[] } & OutputFlags) => run(prepareDirs(flags, io)))

  addOutputOptions(
    addLayoutOptions(
      addCredentialOptions(program.command('install').description('install, enable (and with --now start) the boot unit, with its environment file from these options')),
    )
      .option('--no-enable', 'install the unit without enabling it')
      .option('--now', 'also start it now')
      .option('--node <path>', 'node binary for ExecStart (default: the one running)')
      .option('--cli <path>', 'CLI script for ExecStart (default: the one running)')
      .option('--credential-helper', 'instead of the boot unit: write the environment file and map each registry to docker-credential-iid (credHelpers) in the config file(s)'),
    'print the steps; change nothing',
  )
    .addHelpText('after', helpFooter)
    .action((flags: InstallFlags) => run(import('../commands/install.js').then((m) => m.install(flags, io))))

  addOutputOptions(
    addCredentialOptions(program.command('check').description('report what is true now (IMDS, identity, config files, the unit); writes nothing')).option(
      '--probe',
      'also ask each registry whether it accepts the credential (GET /v2/ and its token realm)',
    ),
    undefined,
  )
    .addHelpText('after', `\nEach line: ok, warn or fail, and a fix for what is not ok. Exit 0 when nothing fails, else the code of the first failure.\nWithout --registry/--config, check uses IID_DOCKER_AUTH_* variables, then ${environmentFilePath}. Its IMDS deadline defaults to ${checkTimeoutSeconds} s.\n${helpFooter}`)
    .action((flags: CheckFlags) => run(import('../commands/check.js').then((m) => m.check(flags, io))))

  addOutputOptions(addLayoutOptions(program.command('uninstall').description('disable and remove exactly what install created')), 'print the steps; change nothing')
    .addHelpText('after', helpFooter)
    .action((flags: InstallFlags) => run(import('../commands/install.js').then((m) => m.uninstall(flags, io))))

  addOutputOptions(
    addRegistryAndConfig(program.command('remove').description("delete this tool's entries from the config file(s), e.g. before baking an image")).option(
      '--username <name>',
      'only entries with this user name are ours (default instance-identity-document)',
    ),
    'print the resulting config file(s) with credentials redacted; write nothing',
  )
    .addHelpText('after', helpFooter)
    .action((flags: RemoveFlags) => run(import('../commands/remove.js').then((m) => m.remove(flags, io))))

  // The default command's options are what people look for in the top-level help.
  program.addHelpText('after', () => `\nThe default command, write:\n${writeCommand.helpInformation()}${helpFooter}`)
  return program
}

/** Runs the CLI with `argv` (process.argv layout) and returns the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let pending: Promise<number> = Promise.resolve(ExitCode.ok)
  const program = buildProgram(
    io,
    (action) => {
      pending = action
    },
  )
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
