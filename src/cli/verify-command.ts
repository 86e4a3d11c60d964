// The `verify` command's options and its exit-code contract with docker_auth's ext_auth; what it
// does is src/commands/verify.ts, loaded when it runs.

import { type Command, CommanderError, Option } from 'commander'
import type { VerifyFlags } from '../commands/verify.js'
import { CliError, ExitCode } from '../errors.js'
import { type CliIo, loggerFor } from './io.js'
import { collect } from './options.js'
import { reportError } from './report.js'

export function addVerifyCommand(program: Command, io: CliIo, run: (action: Promise<number>) => void): void {
  program
    .command('verify')
    .description(
      'registry side: check a credential this tool wrote (docker_auth ext_auth on stdin, or HTTP for nginx auth_request with --listen)',
    )
    .addOption(
      new Option('--allow-account <id>', 'an AWS account whose instances may pull; repeatable (one is required...)').argParser(collect),
    )
    .option('--allow-any-account', '...or this: any AWS account, i.e. anyone who can launch an EC2 instance')
    .addOption(new Option('--allow-region <region>', 'only instances in this region; repeatable').argParser(collect))
    .addOption(new Option('--allow-image <ami>', 'only instances launched from this AMI; repeatable').argParser(collect))
    .option('--max-age <duration>', 'refuse instances launched longer ago (e.g. 30d, 12h); long-running instances lose access')
    .addOption(new Option('--certs <file>', "PEM certificate(s) trusted for every region besides AWS's; repeatable").argParser(collect))
    .option('--username <name>', 'the user name a credential must carry (default instance-identity-document)')
    .option('--check-running', 'also ask the EC2 API (default credential chain) that the instance is pending or running')
    .option('--ec2-endpoint <url>', 'EC2 API endpoint for --check-running (e.g. a VPC endpoint)')
    .option('--cache-size <n>', 'verified credentials and running checks remembered (default 10000; 0: none)')
    .option('--cache-ttl <duration>', 'how long a verified credential (and a running check) is remembered (default 5m)')
    .option('--listen <host:port>', 'serve HTTP for nginx auth_request instead of reading stdin')
    .option('--realm <text>', 'realm in the 401 answer (default registry)')
    .option('--max-connections <n>', 'open connections at most, with --listen (default 1024)')
    .option('-q, --quiet', 'log denials only')
    .option('-v, --verbose', 'also log credentials left to the next authenticator')
    .addHelpText(
      'after',
      '\nWithout --listen: reads "<user> <password>" on stdin as docker_auth\'s ext_auth writes it; exit 0 allowed, ' +
        '1 denied (the reason on stderr), 2 not our user name, 3 unusable configuration.\n' +
        'With --listen: 200 allowed (X-Iid-Account, X-Iid-Instance-Id, X-Iid-Region, X-Iid-Image-Id headers), 401 no credential of ours, ' +
        '403 denied; GET /healthz. See docs/registry-side.md.',
    )
    .action((flags: VerifyFlags) => run(import('../commands/verify.js').then((m) => m.verify(flags, io))))
}

/** verify's contract with docker_auth: anything but a verdict (a bad flag, --certs, a bug) exits 3. */
export function verifyFailure(error: unknown, io: CliIo): number {
  if (error instanceof CommanderError && ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code))
    return ExitCode.ok
  if (error instanceof CliError) reportError(error, loggerFor('normal', io))
  else if (!(error instanceof CommanderError)) loggerFor('normal', io).error(`unexpected error (a bug): ${(error as Error)?.message}`)
  return ExitCode.verifyConfig
}
