// The fix an IMDS failure prints names what the caller can change: flags for the commands, the
// helper's environment and the settings file for docker-credential-iid (it takes no flags), the
// provider's args for kubelet. IMDS here is a closed loopback port, so every attempt is refused.
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import type { CliIo } from '../../src/cli/io.js'
import { runHelper } from '../../src/commands/credential-helper.js'
import { kubeletCredentialProvider } from '../../src/commands/kubelet-credential-provider.js'
import { ExitCode } from '../../src/errors.js'
import { fetchIdentity, fetchIdentityFor } from '../../src/imds/client.js'
import { createLogger } from '../../src/log.js'

const closedPort = 'http://127.0.0.1:9'
const quiet = createLogger('quiet', () => {})
const file = '/nonexistent/iid-docker-auth'

describe('the IMDS fix names what the caller can change', () => {
  it('for the commands: the flags', async () => {
    const error = await fetchIdentity({ endpoint: `${closedPort}/`, signature: 'pkcs7', timeoutMs: 300, log: quiet }).catch(
      (e: unknown) => e,
    )
    expect(error).toMatchObject({
      exitCode: ExitCode.imdsUnavailable,
      hint: expect.stringMatching(/raise --timeout; off EC2 .* in --endpoint$/),
    })
  })

  it('for docker-credential-iid: the variable in its environment and in the settings file, never a flag', async () => {
    let stderr = ''
    const code = await runHelper(['get'], {
      stdout: () => {},
      stderr: (text) => (stderr += text),
      env: { IID_DOCKER_AUTH_TIMEOUT: '0.3', IID_DOCKER_AUTH_PLATFORM: 'ec2' },
      readStdin: async () => Buffer.from('registry.local:5000'),
      readSettingsFile: () => ({
        path: file,
        entries: [
          { name: 'IID_DOCKER_AUTH_REGISTRIES', value: 'registry.local:5000', line: 1 },
          { name: 'IID_DOCKER_AUTH_ENDPOINT', value: closedPort, line: 2 },
        ],
        ignored: [],
      }),
      fetchIdentity: (settings, controls) => fetchIdentityFor(settings, quiet, settings.timeoutMs, controls),
    })
    expect(code).toBe(ExitCode.imdsUnavailable)
    expect(stderr).toMatch(/raise IID_DOCKER_AUTH_TIMEOUT in the environment Docker runs docker-credential-iid with/)
    expect(stderr).toMatch(new RegExp(`IID_DOCKER_AUTH_ENDPOINT in ${file}\\n$`))
    expect(stderr).not.toMatch(/--timeout|--endpoint/)
  })

  it("for the kubelet provider: the provider's args, and the settings file for the endpoint", async () => {
    let stderr = ''
    let stdout = ''
    const io: CliIo = {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
      env: { IID_DOCKER_AUTH_ENV_FILE: file, IID_DOCKER_AUTH_PLATFORM: 'ec2' },
      cwd: undefined,
      journal: false,
    }
    const request = {
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
      kind: 'CredentialProviderRequest',
      image: 'registry.local:5000/app',
    }
    const flags = { registry: ['registry.local:5000'], endpoint: closedPort, timeout: '0.3' }
    const code = await kubeletCredentialProvider(flags, io, Readable.from([JSON.stringify(request)]))
    expect(code).toBe(ExitCode.imdsUnavailable)
    expect(stdout).toBe('')
    expect(stderr).toMatch(/raise --timeout in the provider's args of kubelet's CredentialProviderConfig/)
    expect(stderr).toMatch(new RegExp(`or IID_DOCKER_AUTH_ENDPOINT in ${file}\\)\\n$`))
  })
})
