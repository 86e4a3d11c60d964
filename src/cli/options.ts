// The command-line options several commands share, as commander definitions; what they mean is
// src/settings/.

import { type Command, Option } from 'commander'
import { defaultTimeoutSeconds, envNames } from '../settings/values.js'

/** commander's collector for a repeatable option. */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

export const registryOption = (description: string): Option => new Option('-r, --registry <host[:port]>', description).argParser(collect)

const defaultConfigText = '$DOCKER_CONFIG/config.json, else <passwd home>/.docker/config.json'

export function addRegistryAndConfig(cmd: Command): Command {
  return cmd
    .addOption(registryOption(`registry; repeatable or comma-separated (env ${envNames.registries})`))
    .addOption(new Option('-c, --config <file>', `config file; repeatable (default ${defaultConfigText})`).argParser(collect))
}

/** The options that shape the credential and how IMDS is asked: write, check, install and the kubelet modes. */
export function addIdentityOptions(cmd: Command, timeout: string): Command {
  return cmd
    .option('--username <name>', 'user name in the credential (default instance-identity-document)')
    .option('--signature <kind>', 'pkcs7 (default) or rsa2048')
    .option('--strip-newlines', 'send the PKCS7 as one line instead of verbatim')
    .option('--endpoint <url>', 'IMDS base URL (default $AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254)')
    .option('--timeout <seconds>', timeout)
}

export const addCredentialOptions = (cmd: Command, timeoutSeconds = defaultTimeoutSeconds): Command =>
  addIdentityOptions(addRegistryAndConfig(cmd), `overall deadline for getting the identity from IMDS (default ${timeoutSeconds})`)

export function addOutputOptions(cmd: Command, dryRun: string | undefined): Command {
  if (dryRun !== undefined) cmd.option('--dry-run', dryRun)
  return cmd
    .option('--json', 'print one JSON object describing the outcome on stdout')
    .option('-q, --quiet', 'print errors only')
    .option('-v, --verbose', 'print each step')
}

export function addLayoutOptions(cmd: Command): Command {
  return cmd
    .option('--root <dir>', 'operate on an image root instead of this machine')
    .option('--unit-dir <dir>', 'unit directory, inside the root (default /etc/systemd/system)')
    .option('--force', 'replace (or remove) files that were edited by hand or not written by this tool')
}
