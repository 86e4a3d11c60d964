// The settings file as every mode reads it, with the built CLI: the credential helper, the kubelet
// provider and check refuse a FIFO or a device at once (no hang), read CRLF lines as systemd does,
// ignore settings they do not use, and name the file and line of a bad one; the helper's stdin has
// a deadline. Each run names its own settings file (IID_DOCKER_AUTH_ENV_FILE), never this machine's.
import { spawn } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type CliRun, repoRoot, runCli, runProgram, useSimulator, useTempDir } from '../support/helpers.js'

const sim = useSimulator()
let dir: string
useTempDir('iid-settings-', (d) => {
  dir = d
})
const helperBin = join(repoRoot, 'bin', 'docker-credential-iid.cjs')
const request = (image: string): string =>
  JSON.stringify({ kind: 'CredentialProviderRequest', apiVersion: 'credentialprovider.kubelet.k8s.io/v1', image })

/** The helper as Docker runs it: the server string on stdin, closed. */
async function helper(verb: string, settingsFile: string, input = '', env: Record<string, string> = {}) {
  const run = await runProgram(process.execPath, [helperBin, verb], {
    input,
    env: { ...process.env, IID_DOCKER_AUTH_ENV_FILE: settingsFile, ...env },
    timeoutMs: 20_000,
  })
  // Only get's answer carries the PKCS7, and only on stdout.
  for (const line of sim.pkcs7.split('\n').filter((l) => l.length >= 16))
    expect(run.stderr.includes(line), 'a secret on stderr').toBe(false)
  return run
}
const provider = (settingsFile: string, input: string): Promise<CliRun> =>
  runCli(['kubelet-credential-provider'], {
    input,
    protocolStdout: true,
    env: { IID_DOCKER_AUTH_ENV_FILE: settingsFile },
    timeoutMs: 20_000,
  })
const check = (settingsFile: string): Promise<CliRun> =>
  runCli(['check', '--endpoint', sim.url, '--timeout', '2'], { env: { IID_DOCKER_AUTH_ENV_FILE: settingsFile }, timeoutMs: 20_000 })

describe('a settings file that is not a regular file', () => {
  it.each(['fifo', '/dev/zero'])('%s: the helper, the kubelet provider and check each fail at once, naming it (78)', async (kind) => {
    const path = kind === 'fifo' ? join(dir, 'settings') : kind
    if (kind === 'fifo') execFileSync('mkfifo', [path])
    const message = `the settings file ${path} is not a regular file`
    for (const verb of ['get', 'list']) {
      const run = await helper(verb, path, 'pierone.example.com')
      expect(run.status, run.stderr).toBe(78)
      expect(run.stdout).toBe('')
      expect(run.stderr).toBe(`docker-credential-iid: error: ${message}; fix: make ${path} a regular file, or remove it\n`)
    }
    const kubelet = await provider(path, request('pierone.example.com/app'))
    expect(kubelet.code, kubelet.stderr).toBe(78)
    expect(kubelet.stdout).toBe('')
    expect(kubelet.stderr).toContain(message)
    const checked = await check(path)
    expect(checked.code, checked.stderr).toBe(78)
    expect(checked.stderr).toContain(message)
  })
})

describe('settings read as systemd reads them', () => {
  it('CRLF lines count, as for systemd: the helper answers and the provider gives the credential', async () => {
    const path = join(dir, 'settings')
    writeFileSync(path, `IID_DOCKER_AUTH_REGISTRIES=pierone.example.com\r\nIID_DOCKER_AUTH_ENDPOINT=${sim.url}\r\n`)
    const get = await helper('get', path, 'pierone.example.com')
    expect(get.status, get.stderr).toBe(0)
    expect(JSON.parse(get.stdout)).toMatchObject({ ServerURL: 'pierone.example.com', Secret: sim.pkcs7 })
    const kubelet = await provider(path, request('pierone.example.com/app'))
    expect(kubelet.code, kubelet.stderr).toBe(0)
    expect(JSON.parse(kubelet.stdout).auth['pierone.example.com'].password).toBe(sim.pkcs7)
  })

  it('settings a mode does not use never fail it: a bad log level, JSON or config list in the file', async () => {
    const path = join(dir, 'settings')
    writeFileSync(
      path,
      `IID_DOCKER_AUTH_REGISTRIES=pierone.example.com\nIID_DOCKER_AUTH_ENDPOINT=${sim.url}\nIID_DOCKER_AUTH_LOG_LEVEL=loud\nIID_DOCKER_AUTH_JSON=maybe\nIID_DOCKER_AUTH_CONFIG=,\n`,
    )
    const get = await helper('get', path, 'pierone.example.com')
    expect(get.status, get.stderr).toBe(0)
    expect(JSON.parse(get.stdout).Secret).toBe(sim.pkcs7)
    expect((await helper('list', path)).stdout).toBe('{"pierone.example.com":"instance-identity-document"}\n')
    const kubelet = await provider(path, request('pierone.example.com/app'))
    expect(kubelet.code, kubelet.stderr).toBe(0)
  })

  it('a bad setting the mode uses is named with the file and its line', async () => {
    const path = join(dir, 'settings')
    writeFileSync(path, '# settings\nIID_DOCKER_AUTH_REGISTRIES=pierone.example.com\nIID_DOCKER_AUTH_USERNAME="a:b"\n')
    const get = await helper('get', path, 'pierone.example.com')
    expect(get.status).toBe(64)
    expect(get.stderr).toMatch(
      new RegExp(`^docker-credential-iid: error: IID_DOCKER_AUTH_USERNAME in ${path}:3 must be non-empty, without ':'`),
    )
    const kubelet = await provider(path, request('pierone.example.com/app'))
    expect(kubelet.code).toBe(64)
    expect(kubelet.stderr).toContain(`IID_DOCKER_AUTH_USERNAME in ${path}:3 must be`)
  })

  it('check warns about a line systemd skips (export), naming the file and line', async () => {
    const path = join(dir, 'settings')
    writeFileSync(path, `IID_DOCKER_AUTH_REGISTRIES=pierone.example.com\nexport IID_DOCKER_AUTH_USERNAME=svc\n`)
    const run = await check(path)
    expect(run.stderr).toMatch(
      new RegExp(`^warn  config    ${path}:2: systemd ignores "export IID_DOCKER_AUTH_USERNAME": it is not a variable name$`, 'm'),
    )
  })
})

describe("the helper's stdin", () => {
  it('a caller that never closes stdin gets an error within the deadline, not a hung pull', async () => {
    const path = join(dir, 'settings')
    writeFileSync(path, `IID_DOCKER_AUTH_REGISTRIES=pierone.example.com\nIID_DOCKER_AUTH_ENDPOINT=${sim.url}\n`)
    const child = spawn(process.execPath, [helperBin, 'get'], {
      env: { ...process.env, IID_DOCKER_AUTH_ENV_FILE: path },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    child.stdin.write('pierone.example.com\n') // and never closed while it runs
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    clearTimeout(killer)
    child.stdin.destroy()
    expect(code, stderr).toBe(64)
    expect(stdout).toBe('')
    expect(stderr).toBe(
      'docker-credential-iid: error: stdin was not closed within 2 s; fix: the caller must write the server URL and close stdin, as Docker does\n',
    )
    expect(sim.requests).toEqual([])
  })
})
