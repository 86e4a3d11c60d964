// Entry point for bin/: run the CLI and exit with its code. Exiting explicitly matters: a socket
// that IMDS left half-open must not keep a boot waiting.
import { main } from './cli/program.js'

void main(process.argv).then((code) => process.exit(code))
