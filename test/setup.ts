// Environment isolation for every test file, and for every CLI the tests spawn (they inherit it).
// Safety net: should any code path forget an explicit endpoint, IMDS resolves to a closed
// loopback port, never to 169.254.169.254 or fd00:ec2::254.
process.env['AWS_EC2_METADATA_SERVICE_ENDPOINT'] = 'http://127.0.0.1:9'
process.env['AWS_CONFIG_FILE'] = '/nonexistent/aws-config'
process.env['AWS_SHARED_CREDENTIALS_FILE'] = '/nonexistent/aws-credentials'
for (const name of Object.keys(process.env)) {
  if (name.startsWith('IID_DOCKER_AUTH_') || name === 'AWS_PROFILE' || name === 'DOCKER_CONFIG' || name === 'JOURNAL_STREAM')
    delete process.env[name]
  if (name.startsWith('AWS_EC2_METADATA_') && name !== 'AWS_EC2_METADATA_SERVICE_ENDPOINT') delete process.env[name]
}
// The suite's IMDS is a simulator on loopback, on machines that are not EC2: it says so, as anyone
// using a metadata service off EC2 would (src/imds/platform.ts). Platform tests set auto themselves.
process.env['IID_DOCKER_AUTH_PLATFORM'] = 'ec2'

// Every CLI run of every test: its stdout and stderr must hold no signature line, no token and no
// auth value of any simulator this process started.
import { afterEach, expect } from 'vitest'
import { takeRuns } from './support/runs.js'

afterEach(async () => {
  const runs = takeRuns()
  if (runs.length === 0) return
  // Loaded only by a file that ran a CLI: a unit test file starts no simulator.
  const { knownSecrets, knownSignatures } = await import('../sim/imds-simulator.js')
  const { buildAuth, defaultUsername } = await import('../src/imds/identity.js')
  const secrets = knownSecrets().filter((s) => s.length >= 16)
  for (const signature of knownSignatures()) {
    for (const user of [defaultUsername, 'svc']) for (const strip of [false, true]) secrets.push(buildAuth(user, signature, strip))
  }
  // A protocol run's stdout carries the PKCS7 by design (kubelet-credential-provider), so there only
  // the PKCS7's own lines are allowed; tokens and auth values are still secrets, and stderr is checked in full.
  const signatureLines = new Set(knownSignatures().flatMap((s) => s.split('\n')))
  for (const run of runs) {
    const output = run.protocolStdout ? run.stderr : run.stdout + run.stderr
    for (const secret of secrets) if (output.includes(secret)) expect.fail(`a secret reached a CLI's output: ${secret.slice(0, 12)}...`)
    if (!run.protocolStdout) continue
    for (const secret of secrets)
      if (!signatureLines.has(secret) && run.stdout.includes(secret))
        expect.fail(`a token or auth value reached a protocol stdout: ${secret.slice(0, 12)}...`)
  }
})
