// Entry point for bin/: run the CLI and exit with its code. Exiting explicitly matters: a socket
// that IMDS left half-open must not keep a boot waiting.
import { main } from './cli.js'

const code = await main(process.argv)
process.exit(code)
