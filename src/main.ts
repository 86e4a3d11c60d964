// Entry point for bin/: run the CLI and exit with its code. Exiting explicitly matters: a socket
// that IMDS left half-open must not keep a boot waiting.
import { main } from './cli.js'
import * as cliShared from './cli-shared.js'
import * as configFile from './config-file.js'
import * as configUpdate from './config-update.js'
import * as dockerConfig from './docker-config.js'
import * as errors from './errors.js'
import * as identity from './identity.js'
import * as imds from './imds.js'
import * as jsonDoc from './json-doc.js'
import * as lock from './lock.js'
import * as log from './log.js'
import * as options from './options.js'
import * as registry from './registry.js'
import * as systemdNames from './systemd-names.js'

/**
 * The modules the boot bundle already holds, lent to the bundle of the other commands (see
 * scripts/build.mjs) so that it neither repeats them nor has classes of its own (CliError).
 */
export const modules = { cliShared, configFile, configUpdate, dockerConfig, errors, identity, imds, jsonDoc, lock, log, options, registry, systemdNames }

void main(process.argv).then((code) => process.exit(code))
