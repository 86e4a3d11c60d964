// Off EC2, every mode ends at once with 69 and says why, instead of retrying IMDS until its
// deadline: the built CLI, a fake sysfs (IID_DOCKER_AUTH_SYSFS) of a laptop VM, and IMDS on a
// loopback port nothing listens on. IID_DOCKER_AUTH_PLATFORM=ec2 (test/setup.ts sets it for the
// rest of the suite) brings the wait back.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot, runCli, runProgram, useSimulator, useTempDir, validJson } from '../support/helpers.js'

let dir: string
let laptop: string
useTempDir('iid-platform-', (d) => {
  dir = d
  laptop = join(d, 'sys')
  mkdirSync(join(laptop, 'class/dmi/id'), { recursive: true })
  writeFileSync(join(laptop, 'class/dmi/id/sys_vendor'), 'QEMU\n')
  writeFileSync(join(laptop, 'class/dmi/id/product_name'), 'Standard PC (Q35 + ICH9, 2009)\n')
})

/** Nothing listens on the discard port: every attempt is refused, as 169.254.169.254 is off EC2. */
const unreachable = 'http://127.0.0.1:9'
const reason = 'not EC2 (DMI sys_vendor "QEMU", product_name "Standard PC (Q35 + ICH9, 2009)"): IMDS not asked'
/** The default platform (auto) on the laptop's facts, with no settings file of this machine's. */
const offEc2 = (extra: Record<string, string | undefined> = {}) => ({
  IID_DOCKER_AUTH_PLATFORM: undefined,
  IID_DOCKER_AUTH_SYSFS: laptop,
  IID_DOCKER_AUTH_ENV_FILE: join(dir, 'none.env'),
  DOCKER_CONFIG: join(dir, 'docker'),
  ...extra,
})

describe('off EC2', () => {
  it('write exits 69 at once with the reason, well inside its deadline; forced to ec2 it waits the deadline instead', async () => {
    const run = await runCli(['-r', 'pierone.example.com', '--endpoint', unreachable, '--timeout', '60'], { env: offEc2() })
    expect(run.code, run.stderr).toBe(69)
    expect(run.stderr).toContain(`iid-docker-auth: error: ${reason}`)
    expect(run.stderr).toContain('IID_DOCKER_AUTH_PLATFORM=ec2')
    expect(run.ms).toBeLessThan(30_000)

    const forced = await runCli(['-r', 'pierone.example.com', '--endpoint', unreachable, '--timeout', '4'], {
      env: offEc2({ IID_DOCKER_AUTH_PLATFORM: 'ec2' }),
    })
    expect(forced.code, forced.stderr).toBe(69)
    expect(forced.stderr).toMatch(/did not give the identity within 4 s/)
    // Its last attempt ends a moment before the deadline.
    expect(forced.ms).toBeGreaterThan(3000)
  }, 60_000)

  it('--json carries the reason', async () => {
    const run = await runCli(['-r', 'pierone.example.com', '--endpoint', unreachable, '--json'], { env: offEc2() })
    expect(run.code).toBe(69)
    expect(validJson(run.stdout, 'write').error).toMatchObject({ message: reason })
  })

  it('check says "not EC2 (reason)" on its IMDS line', async () => {
    const run = await runCli(['check', '-r', 'pierone.example.com', '--endpoint', unreachable, '--json'], { env: offEc2() })
    expect(run.code).toBe(69)
    expect(validJson(run.stdout, 'check').checks[0]).toEqual({
      area: 'imds',
      verdict: 'fail',
      message: reason,
      fix: expect.stringContaining('IID_DOCKER_AUTH_PLATFORM=ec2'),
      exitCode: 69,
    })
  })

  it('the credential helper and the kubelet provider end at once too', async () => {
    const helper = await runProgram(process.execPath, [join(repoRoot, 'bin/docker-credential-iid.cjs'), 'get'], {
      input: 'pierone.example.com',
      env: {
        PATH: process.env['PATH'],
        ...offEc2({ IID_DOCKER_AUTH_REGISTRIES: 'pierone.example.com', IID_DOCKER_AUTH_ENDPOINT: unreachable }),
      } as NodeJS.ProcessEnv,
    })
    expect(helper.status, helper.stderr).toBe(69)
    expect(helper.stdout).toBe('')
    expect(helper.stderr).toContain(`no credential for pierone.example.com: ${reason}`)

    const request = JSON.stringify({
      kind: 'CredentialProviderRequest',
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
      image: 'pierone.example.com/app:1',
    })
    const kubelet = await runCli(['kubelet-credential-provider', '-r', 'pierone.example.com', '--endpoint', unreachable], {
      input: request,
      protocolStdout: true,
      env: offEc2(),
    })
    expect(kubelet.code, kubelet.stderr).toBe(69)
    expect(kubelet.stdout).toBe('')
    expect(kubelet.stderr).toContain(reason)
  })

  it('a bad IID_DOCKER_AUTH_PLATFORM is a usage error', async () => {
    const run = await runCli(['-r', 'pierone.example.com', '--endpoint', unreachable], { env: offEc2({ IID_DOCKER_AUTH_PLATFORM: 'aws' }) })
    expect(run.code).toBe(64)
    expect(run.stderr).toMatch(/IID_DOCKER_AUTH_PLATFORM="aws" is not a platform/)
  })
})

describe('the platform set in the settings file', () => {
  const sim = useSimulator()

  it('IID_DOCKER_AUTH_PLATFORM=ec2 in the file lets the on-demand modes ask IMDS on any hardware', async () => {
    const envFile = join(dir, 'iid-docker-auth')
    writeFileSync(envFile, 'IID_DOCKER_AUTH_REGISTRIES=pierone.example.com\nIID_DOCKER_AUTH_PLATFORM=ec2\n')
    const request = JSON.stringify({
      kind: 'CredentialProviderRequest',
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
      image: 'pierone.example.com/app:1',
    })
    const run = await runCli(['kubelet-credential-provider', '--endpoint', sim.url], {
      input: request,
      protocolStdout: true,
      env: offEc2({ IID_DOCKER_AUTH_ENV_FILE: envFile }),
    })
    expect(run.code, run.stderr).toBe(0)
    expect(Object.keys(JSON.parse(run.stdout).auth)).toEqual(['pierone.example.com'])
  })
})
