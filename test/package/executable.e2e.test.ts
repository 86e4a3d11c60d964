// The single executable from `npm run package`: it carries its own Node.js, names it in --version,
// and behaves as the npm bins do, as iid-docker-auth, as docker-credential-iid through a symlink of
// that name, and as the kubelet provider through its command; install renders a unit that runs it.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cliPath, runProgram, useSimulator } from '../support/helpers.js'
import { canPackage, ensurePackages, pinnedNode, version } from '../support/packages.js'

const sim = useSimulator()
let dir: string
let executable: string
beforeAll(() => {
  executable = ensurePackages().executable
}, 900_000)
afterEach(() => rmSync(dir, { recursive: true, force: true }))

/** The same command through the executable and through `node bin/iid-docker-auth.cjs`, with no node on PATH for the first. */
async function both(args: string[], env: Record<string, string>, input?: string, as = 'iid-docker-auth') {
  const link = join(dir, as)
  if (!existsSync(link)) symlinkSync(executable, link)
  const npmBin = as === 'iid-docker-auth' ? cliPath : cliPath.replace('iid-docker-auth.cjs', 'docker-credential-iid.cjs')
  const options = (path: string) => ({
    env: { PATH: path, HOME: dir, IID_DOCKER_AUTH_PLATFORM: 'ec2', ...env },
    ...(input === undefined ? {} : { input }),
  })
  const fromExecutable = await runProgram(link, args, options('/nonexistent'))
  const fromNpm = await runProgram(process.execPath, [npmBin, ...args], options(process.env['PATH']!))
  return { fromExecutable, fromNpm }
}

describe.runIf(canPackage)('the single executable', () => {
  it('names the package version and the Node.js release it carries', async () => {
    dir = mkdtempSync(join(tmpdir(), 'iid-sea-'))
    const run = await runProgram(executable, ['--version'], { env: { PATH: '/nonexistent' } })
    expect(run.stdout).toBe(`${version} (single executable, Node.js v${pinnedNode})\n`)
    const helper = await both(['version'], {}, undefined, 'docker-credential-iid')
    expect(helper.fromExecutable.stdout).toBe(
      `docker-credential-iid (iid-docker-auth) ${version} (single executable, Node.js v${pinnedNode})\n`,
    )
  })

  it('writes the entry as the npm bin does', async () => {
    dir = mkdtempSync(join(tmpdir(), 'iid-sea-'))
    const config = (name: string) => join(dir, name, 'config.json')
    const args = (name: string) => ['--registry', 'pierone.example.com', '--config', config(name), '--endpoint', sim.url, '--timeout', '5']
    const link = join(dir, 'iid-docker-auth')
    symlinkSync(executable, link)
    const sea = await runProgram(link, args('sea'), { env: { PATH: '/nonexistent', IID_DOCKER_AUTH_PLATFORM: 'ec2' } })
    expect(sea.stderr).toBe(`iid-docker-auth: wrote pierone.example.com to ${config('sea')}\n`)
    expect(sea.status).toBe(0)
    const npm = await runProgram(process.execPath, [cliPath, ...args('npm')], { env: { ...process.env, IID_DOCKER_AUTH_PLATFORM: 'ec2' } })
    expect(npm.status, npm.stderr).toBe(0)
    expect(readFileSync(config('sea'), 'utf8')).toBe(readFileSync(config('npm'), 'utf8'))
  })

  it('is docker-credential-iid through a symlink of that name, answering as the npm bin does', async () => {
    dir = mkdtempSync(join(tmpdir(), 'iid-sea-'))
    const env = {
      IID_DOCKER_AUTH_REGISTRIES: 'pierone.example.com',
      IID_DOCKER_AUTH_ENDPOINT: sim.url,
      IID_DOCKER_AUTH_ENV_FILE: '/nonexistent',
    }
    const { fromExecutable, fromNpm } = await both(['get'], env, 'pierone.example.com', 'docker-credential-iid')
    expect(fromExecutable.status, fromExecutable.stderr).toBe(0)
    expect(JSON.parse(fromExecutable.stdout)).toEqual(JSON.parse(fromNpm.stdout))
    const list = await both(['list'], env, '', 'docker-credential-iid')
    expect(list.fromExecutable.stdout).toBe(list.fromNpm.stdout)
  })

  it('is the kubelet provider through its command, answering as the npm bin does', async () => {
    dir = mkdtempSync(join(tmpdir(), 'iid-sea-'))
    const request = JSON.stringify({
      kind: 'CredentialProviderRequest',
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
      image: 'pierone.example.com/a/b:1',
    })
    const env = {
      IID_DOCKER_AUTH_REGISTRIES: 'pierone.example.com',
      IID_DOCKER_AUTH_ENDPOINT: sim.url,
      IID_DOCKER_AUTH_ENV_FILE: '/nonexistent',
    }
    const { fromExecutable, fromNpm } = await both(['kubelet-credential-provider'], env, request)
    expect(fromExecutable.status, fromExecutable.stderr).toBe(0)
    expect(JSON.parse(fromExecutable.stdout)).toEqual(JSON.parse(fromNpm.stdout))
  })

  it('install --root renders a unit that runs the executable itself', async () => {
    dir = mkdtempSync(join(tmpdir(), 'iid-sea-'))
    const root = join(dir, 'root')
    mkdirSync(root)
    const run = await runProgram(executable, ['install', '--root', root, '--registry', 'pierone.example.com'], {
      env: { PATH: '/usr/bin:/bin' },
    })
    expect(run.status, run.stderr).toBe(0)
    const unit = readFileSync(join(root, 'etc/systemd/system/iid-docker-auth.service'), 'utf8')
    expect(unit.split('\n').filter((l) => l.startsWith('Exec'))).toEqual([
      `ExecStartPre=-+${executable} prepare-dirs`,
      `ExecStart=${executable} write`,
    ])
  })
})
