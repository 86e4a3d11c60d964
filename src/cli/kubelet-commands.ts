// The kubelet modes' command-line definitions, kept apart from program.ts so that registering them
// there is one line. The command code itself is imported only when one of them runs.

import type { Command } from 'commander'
import type { KubeletConfigFlags } from '../commands/kubelet-config.js'
import type { KubeletFlags } from '../commands/kubelet-credential-provider.js'
import { environmentFilePath } from '../systemd/names.js'
import type { CliIo } from './io.js'
import { addIdentityOptions, registryOption } from './options.js'
import { envNames } from '../settings/values.js'

const loadProvider = () => import('../commands/kubelet-credential-provider.js')
const loadConfig = () => import('../commands/kubelet-config.js')

function addProviderOptions(cmd: Command): Command {
  const registry = registryOption(`registry that gets the credential; repeatable or comma-separated (env ${envNames.registries})`)
  const timeout = `deadline for answering kubelet, at most 50 (default 20; ${envNames.timeout} is the boot unit's and is not used)`
  return addIdentityOptions(cmd.addOption(registry), timeout).option(
    '--cache-duration <duration>',
    'how long kubelet may cache the credential, as a Go duration: 1h, 30m, 0 for no cache (default 1h; env IID_DOCKER_AUTH_CACHE_DURATION)',
  )
}

const settingsNote =
  `\nSettings: flags, then IID_DOCKER_AUTH_* variables, then ${environmentFilePath}` + ' (IID_DOCKER_AUTH_ENV_FILE names another file).\n'

export function addKubeletCommands(program: Command, io: CliIo, run: (action: Promise<number>) => void): void {
  addProviderOptions(
    program
      .command('kubelet-credential-provider')
      .description(
        "kubelet's image credential provider: read a CredentialProviderRequest on stdin, answer on stdout " +
          '(kubelet runs this; see kubelet-config)',
      ),
  )
    .addHelpText(
      'after',
      `${settingsNote}Answers the image's registry host[:port] with the credential when it is a configured registry, ` +
        'else with an empty auth.\nOn any failure: one line on stderr, nothing on stdout, a non-zero exit.\n',
    )
    .action((flags: KubeletFlags) => run(loadProvider().then((m) => m.kubeletCredentialProvider(flags, io))))
  addProviderOptions(
    program
      .command('kubelet-config')
      .description(
        'print the kubelet CredentialProviderConfig (--image-credential-provider-config) for the kubelet-credential-provider mode',
      ),
  )
    .option('--name <file>', "the provider's executable name in kubelet's --image-credential-provider-bin-dir (default iid-docker-auth)")
    .option('--format <format>', 'yaml (default) or json')
    .option('--json', 'the same as --format json')
    .addHelpText(
      'after',
      `${settingsNote}The registries become matchImages and, with the cache duration and any other flag given here, the provider's args.\n`,
    )
    .action((flags: KubeletConfigFlags) => run(loadConfig().then((m) => m.kubeletConfig(flags, io))))
}
