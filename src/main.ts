// Entry point for bin/: run the CLI and exit with its code. Exiting explicitly matters: a socket
// that IMDS left half-open must not keep a boot waiting. One bundle serves both commands: the
// docker-credential-iid shim marks itself (a symlink to it keeps that name in argv[1] too).
import { basename } from 'node:path'
import { main } from './cli/program.js'

const asHelper =
  (globalThis as { iidDockerAuthEntry?: string }).iidDockerAuthEntry === 'docker-credential-iid' ||
  basename(process.argv[1] ?? '').startsWith('docker-credential-')

void (asHelper ? import('./commands/credential-helper.js').then((m) => m.helperMain(process.argv.slice(2))) : main(process.argv)).then(
  (code) => process.exit(code),
)
