// Edges a black-box review found: every message one escaped line with its fix, the right default
// named, no value echoed without bound, commander's own errors in the tool's format.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readEnvironmentFile } from '../../src/settings/settings-file.js'
import { runCli, useSimulator } from '../support/helpers.js'

const sim = useSimulator()

describe('edges of the command line', () => {
  it('caps the warnings about one file: thousands of bad entries are ten lines and a count, not a flooded journal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iid-warnings-'))
    try {
      const auths = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`r${i}.example.com`, { auth: 5 }]))
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths }), { mode: 0o600 })
      const run = await runCli(['-r', 'reg.example.com', '-c', join(dir, 'config.json'), '--endpoint', sim.url])
      const warnings = run.stderr.split('\n').filter((line) => line.includes('warning:'))
      expect(warnings).toHaveLength(11)
      expect(warnings.at(-1)).toContain('1990 more warning(s) not shown')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('the kubelet provider escapes what V8 quotes from a broken request', async () => {
    const run = await runCli(['kubelet-credential-provider', '-r', 'reg.example.com', '--endpoint', sim.url], {
      input: 'nojson\u001b[31m\u2028x',
      protocolStdout: true,
    })
    expect(run.code).toBe(64)
    expect(run.stdout).toBe('')
    expect(run.stderr).not.toMatch(/[\u001b\u2028]/)
    expect(run.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('check names its own timeout default in a bad --timeout', async () => {
    const run = await runCli(['check', '-r', 'reg.example.com', '--timeout', 'abc', '--endpoint', sim.url])
    expect(run.code).toBe(64)
    expect(run.stderr).toMatch(/the default is 10 /)
  })

  it('refuses an endpoint longer than any real one without echoing it whole', async () => {
    const long = `http://127.0.0.1:9/${'a'.repeat(5000)}`
    const run = await runCli(['-r', 'reg.example.com', '-c', '/nonexistent/x/config.json', '--endpoint', long])
    expect(run.code).toBe(64)
    expect(run.stderr.length).toBeLessThan(600)
  })

  it('suggests the kubelet commands for their typos', async () => {
    expect((await runCli(['kubelet-confg'])).stderr).toMatch(/did you mean `kubelet-config`/)
    expect((await runCli(['kubelet-credential-providr'])).stderr).toMatch(/did you mean `kubelet-credential-provider`/)
  })

  it("prints commander's own errors as an error line and a fix line", async () => {
    const run = await runCli(['--bogus'])
    expect(run.code).toBe(64)
    expect(run.stderr).toMatch(/^iid-docker-auth: error: unknown option '--bogus'\niid-docker-auth: fix: run iid-docker-auth --help/)
    expect(run.stderr).not.toMatch(/\(run iid-docker-auth --help for usage\)/)
  })

  it('a token a header cannot carry is unusable data (65), not a network error', async () => {
    sim.setFaults({ routes: { token: { body: 'tok\u001b[2Jen' } } })
    const run = await runCli(['-r', 'reg.example.com', '-c', '/nonexistent/x/config.json', '--endpoint', sim.url, '--timeout', '1'])
    expect(run.code, run.stderr).toBe(65)
    expect(run.stderr).toMatch(/the token holds characters an HTTP header cannot carry/)
  })

  it('reads single-quoted values in the environment file as systemd does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iid-env-'))
    try {
      writeFileSync(join(dir, 'env'), "IID_DOCKER_AUTH_REGISTRIES='reg.example.com'\n")
      expect(readEnvironmentFile(join(dir, 'env'))).toEqual({ IID_DOCKER_AUTH_REGISTRIES: 'reg.example.com' })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
