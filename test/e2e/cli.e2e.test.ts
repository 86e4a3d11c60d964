// The built CLI, spawned as an operator runs it, against the IMDS simulator and real files.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { buildAuth, defaultUsername } from '../../src/imds/identity.js'
import { currentOwner, processStartTime } from '../../src/fs/lock-owner.js'
import { startImdsSimulator } from '../../sim/imds-simulator.js'
import { cliPath, expectImdsV2Only, runCli, runProgram, useSimulator, useTempDir, validJson } from '../support/helpers.js'

const sim = useSimulator()
let dir: string
let config: string
useTempDir('iid-e2e-', (d) => {
  dir = d
  config = join(d, 'docker', 'config.json')
})
afterEach(() => expectImdsV2Only(sim))

const write = (args: string[] = [], env: Record<string, string | undefined> = {}) =>
  runCli(['--registry', 'pierone.example.com', '--config', config, '--endpoint', sim.url, '--timeout', '5', ...args], { env })

const authOf = (path: string, key: string): string =>
  (JSON.parse(readFileSync(path, 'utf8')) as { auths: Record<string, { auth: string }> }).auths[key]!.auth
const decoded = (auth: string): string => Buffer.from(auth, 'base64').toString('utf8')

function seed(text: string, mode = 0o600): Buffer {
  mkdirSync(join(dir, 'docker'), { recursive: true, mode: 0o700 })
  writeFileSync(config, text, { mode })
  return readFileSync(config)
}

describe('write', () => {
  it('says so when the file it puts the credential in lets group or others read it', async () => {
    const config = join(dir, 'open', 'config.json')
    mkdirSync(join(dir, 'open'), { mode: 0o755 })
    writeFileSync(config, '{}', { mode: 0o644 })
    const run = await runCli(['--registry', 'pierone.example.com', '--config', config, '--endpoint', sim.url, '--timeout', '5'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toContain('its mode 0644 lets group or others read the credential; fix: chmod 600 it')
  })

  it("with several config files, a broken one does not stop the others: they are written, and the exit code is the broken one's", async () => {
    const good = join(dir, 'good', 'config.json')
    const bad = join(dir, 'bad', 'config.json')
    mkdirSync(join(dir, 'bad'), { mode: 0o700 })
    writeFileSync(bad, '{bad', { mode: 0o600 })
    const run = await runCli([
      '--registry',
      'pierone.example.com',
      '--config',
      good,
      '--config',
      bad,
      '--endpoint',
      sim.url,
      '--timeout',
      '5',
    ])
    expect(run.code, run.stderr).toBe(78)
    expect(authOf(good, 'pierone.example.com')).toBeTruthy()
    expect(readFileSync(bad, 'utf8')).toBe('{bad')
    expect(run.stderr).toMatch(/is not valid JSON/)
    // With only broken files, nothing is asked of IMDS.
    sim.requests.splice(0)
    expect((await runCli(['--registry', 'pierone.example.com', '--config', bad, '--endpoint', sim.url, '--timeout', '5'])).code).toBe(78)
    expect(sim.requests).toEqual([])
  })

  it('writes the entry: base64 of "instance-identity-document:<pkcs7 verbatim>", 0600 in a new 0700 directory', async () => {
    const run = await write()
    expect(run.code).toBe(0)
    expect(run.stdout).toBe('')
    expect(run.stderr).toBe(`iid-docker-auth: wrote pierone.example.com to ${config}\n`)
    const text = readFileSync(config, 'utf8')
    expect(Object.keys(JSON.parse(text))).toEqual(['auths'])
    const auth = authOf(config, 'pierone.example.com')
    expect(auth).toMatch(/^[A-Za-z0-9+/]+={0,2}$/)
    expect(decoded(auth)).toBe(`instance-identity-document:${sim.pkcs7}`)
    expect(decoded(auth)).toContain('\n')
    expect(JSON.parse(text).auths['pierone.example.com']).toEqual({ auth })
    expect(text.startsWith('{\n\t"auths": {\n\t\t"pierone.example.com": {\n\t\t\t"auth": "')).toBe(true)
    expect(text.endsWith('}\n')).toBe(true)
    expect(statSync(config).mode & 0o777).toBe(0o600)
    expect(statSync(join(dir, 'docker')).mode & 0o777).toBe(0o700)
    expect(readdirSync(join(dir, 'docker'))).toEqual(['config.json'])
  })

  it('sends the PKCS7 as one line with --strip-newlines, the rsa2048 signature, and another user name', async () => {
    expect((await write(['--strip-newlines'])).code).toBe(0)
    expect(decoded(authOf(config, 'pierone.example.com'))).toBe(`instance-identity-document:${sim.pkcs7.replace(/\n/g, '')}`)
    expect((await write(['--signature', 'rsa2048', '--username', 'svc'])).code).toBe(0)
    expect(decoded(authOf(config, 'pierone.example.com'))).toBe(`svc:${sim.rsa2048}`)
  })

  it('takes its settings from IID_DOCKER_AUTH_* variables', async () => {
    const other = join(dir, 'kubelet', 'config.json')
    const run = await runCli([], {
      env: {
        IID_DOCKER_AUTH_REGISTRIES: 'a.example.com,https://B.example.com:5000/v2/',
        IID_DOCKER_AUTH_CONFIG: `${config},${other}`,
        IID_DOCKER_AUTH_ENDPOINT: sim.url,
        IID_DOCKER_AUTH_TIMEOUT: '5',
        IID_DOCKER_AUTH_STRIP_NEWLINES: 'true',
      },
    })
    expect(run.code).toBe(0)
    expect(run.stderr).toContain('registry "https://B.example.com:5000/v2/" reduced to b.example.com:5000')
    for (const path of [config, other]) {
      expect(Object.keys(JSON.parse(readFileSync(path, 'utf8')).auths)).toEqual(['a.example.com', 'b.example.com:5000'])
      expect(decoded(authOf(path, 'b.example.com:5000'))).not.toContain('\n')
    }
  })

  it('keeps everything else in the file exactly, and a second run changes nothing (mtime untouched)', async () => {
    const foreign =
      '{\n  "auths": {"other.example.com": {"auth": "dXNlcjpwYXNz", "x-extra": {"a": [1, 2]}}, "pierone.example.com": {"auth": "b2xkOmVudHJ5"}},\n' +
      '  "credHelpers": {"123.dkr.ecr.eu-central-1.amazonaws.com": "ecr-login"}, "__proto__": {"p": 1}, "big": 123456789012345678901234567890,\n' +
      '  "psFormat": "table {{.ID}}\\t{{.Names}}", "x-unknown": {"nested": {"deep": ["\\u00e9", null, true]}}\n}'
    seed(foreign, 0o640)
    const run = await write()
    expect(run.code).toBe(0)
    const after = readFileSync(config, 'utf8')
    // Everything but our entry is as it was: compare with our entry put back to its old value.
    const ours = authOf(config, 'pierone.example.com')
    const restored = after.replace(ours, 'b2xkOmVudHJ5')
    const protect = (t: string) =>
      JSON.parse(t.replace('"__proto__"', '"__proto_key__"').replace('123456789012345678901234567890', '"bigint"'))
    expect(protect(restored)).toEqual(protect(foreign))
    expect(after).toContain('"big": 123456789012345678901234567890')
    expect(after).toContain('"__proto__": {')
    expect(after).toContain('"\\u00e9"')
    expect(statSync(config).mode & 0o777).toBe(0o640)

    const past = new Date('2020-01-01T00:00:00Z')
    utimesSync(config, past, past)
    const again = await write()
    expect(again.code).toBe(0)
    expect(again.stderr).toContain('already current')
    expect(statSync(config).mtime.getTime()).toBe(past.getTime())
  })

  it('removes its own older entries under other spellings of the registry, keeps a person’s login there with a warning', async () => {
    const own = Buffer.from('instance-identity-document:MIIB-older').toString('base64')
    const alice = Buffer.from('alice:s3cret').toString('base64')
    seed(
      JSON.stringify({
        auths: {
          'https://pierone.example.com/v1/': { auth: alice },
          'pierone.example.com/': { auth: own },
          'http://pierone.example.com': { auth: own },
          'pierone.example.com/team/app': { auth: own },
        },
      }),
    )
    const run = await write()
    expect(run.code).toBe(0)
    expect(run.stderr).toContain('removed competing key(s) "pierone.example.com/", "http://pierone.example.com"')
    const warnings = run.stderr.split('\n').filter((l) => l.includes('warning:'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(
      /auths\["https:\/\/pierone\.example\.com\/v1\/"\] is another spelling of pierone\.example\.com .*\(user "alice"\).*skopeo.*kept.*docker logout https:\/\/pierone\.example\.com\/v1\//,
    )
    const auths = JSON.parse(readFileSync(config, 'utf8')).auths
    expect(Object.keys(auths)).toEqual(['https://pierone.example.com/v1/', 'pierone.example.com/team/app', 'pierone.example.com'])
    expect(auths['https://pierone.example.com/v1/']).toEqual({ auth: alice })
  })

  it('warns when it replaces a person’s login under its own key', async () => {
    seed(
      JSON.stringify({
        auths: { 'pierone.example.com': { auth: Buffer.from('<token>:').toString('base64'), identitytoken: 'person-token' } },
      }),
    )
    const run = await write(['--json'])
    expect(run.code).toBe(0)
    const warning = `${config}: replaced auths["pierone.example.com"], which held a login this tool did not write (an identity token)`
    expect(run.stderr).toContain(`warning: ${warning}`)
    expect(run.stderr).toContain(`wrote pierone.example.com to ${config}`)
    expect(validJson(run.stdout, 'write').configs[0].warnings).toEqual([expect.stringContaining(warning.slice(config.length + 2))])
    expect(readFileSync(config, 'utf8')).not.toContain('person-token')
  })

  it('warns when credsStore or credHelpers hide the entry from Docker, and still writes it', async () => {
    seed('{"credsStore":"desktop","credHelpers":{"pierone.example.com":"pierone"}}')
    const run = await write()
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(/warning: .*"credsStore": "desktop" is set/)
    expect(run.stderr).toMatch(/warning: .*"credHelpers" names pierone\.example\.com/)
  })

  it('warns when another entry would make Docker discard the file', async () => {
    seed('{"auths":{"broken.example.com":{"auth":"bm9jb2xvbg=="}}}')
    const run = await write()
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(/warning: .*auths\["broken.example.com"\] has an "auth" that has no colon/)
    expect(JSON.parse(readFileSync(config, 'utf8')).auths['broken.example.com']).toEqual({ auth: 'bm9jb2xvbg==' })
  })

  it('updates the target of a symlinked config and keeps the link', async () => {
    mkdirSync(join(dir, 'real'))
    writeFileSync(join(dir, 'real', 'config.json'), '{"k":1}', { mode: 0o600 })
    mkdirSync(join(dir, 'docker'))
    symlinkSync('../real/config.json', config)
    const run = await write()
    expect(run.code).toBe(0)
    expect(readFileSync(join(dir, 'real', 'config.json'), 'utf8')).toContain('"pierone.example.com"')
    expect(readFileSync(join(dir, 'real', 'config.json'), 'utf8')).toContain('"k": 1')
    expect(statSync(config).isFile()).toBe(true)
    expect(readdirSync(join(dir, 'docker'))).toEqual(['config.json'])
    expect(execFileSync('readlink', [config]).toString().trim()).toBe('../real/config.json')
  })

  it.each([
    ['invalid JSON', '{"auths": {', /is not valid JSON \(unexpected end of input; expected a quoted key at line 1, column 12\)/],
    ['a byte-order mark', '\uFEFF{}', /byte-order mark/],
    ['an array at the top', '[]', /JSON array at the top/],
    ['auths as an array', '{"auths":[]}', /"auths" as a JSON array/],
    ['NUL bytes', '{"auths":{}}\u0000\u0000', /not valid JSON/],
  ])('refuses a file with %s: exit 78, byte-identical, IMDS never asked', async (_, text, message) => {
    const before = seed(text)
    const run = await write()
    expect(run.code).toBe(78)
    expect(run.stderr).toMatch(message)
    expect(run.stderr).toMatch(/fix: /)
    expect(run.stderr.trim().split('\n')).toHaveLength(2)
    expect(readFileSync(config).equals(before)).toBe(true)
    expect(readdirSync(join(dir, 'docker'))).toEqual(['config.json'])
    expect(sim.requests).toEqual([])
  })

  it.each([
    ['a directory', (p: string) => mkdirSync(p, { recursive: true })],
    ['a FIFO', (p: string) => (mkdirSync(join(p, '..'), { recursive: true }), execFileSync('mkfifo', [p]))],
  ])('refuses %s at the config path with exit 78, without blocking', async (what, make) => {
    make(config)
    const run = await write()
    expect(run.code).toBe(78)
    expect(run.stderr).toContain(`is ${what}, not a regular file`)
  })

  it.each([
    [['--registry', 'bad host'], /registry "bad host" contains white space/],
    [['--registry', 'user@host'], /contains credentials/],
    [['--registry', 'docker.io'], /registry "docker\.io" is Docker Hub/],
    [['--registry', 'https://index.docker.io/v1/'], /registry "https:\/\/index\.docker\.io\/v1\/" is Docker Hub/],
    [['--timeout', 'never'], /--timeout "never"/],
    [['--signature', 'sha1'], /not a signature kind/],
    [['--endpoint', 'ftp://x'], /not an http\(s\) URL/],
    [['--bogus'], /unknown option '--bogus'/],
  ])('exits 64 on %j with a one-line reason and nothing written', async (args, message) => {
    const run = await write(args)
    expect(run.code).toBe(64)
    expect(run.stderr).toMatch(message)
    expect(existsSync(config)).toBe(false)
    expect(sim.requests).toEqual([])
  })

  it.each([
    ['check', ['--endpoint']],
    ['remove', []],
    ['install', ['--root', 'ROOT', '--endpoint']],
  ])('%s refuses Docker Hub with exit 64 too, before asking IMDS', async (command, extra) => {
    const args = extra.map((a) => (a === 'ROOT' ? dir : a)).flatMap((a) => (a === '--endpoint' ? [a, sim.url] : [a]))
    const run = await runCli([command, '--registry', 'index.docker.io', '--config', config, ...args])
    expect(run.code).toBe(64)
    expect(run.stderr).toMatch(/registry "index\.docker\.io" is Docker Hub/)
    expect(existsSync(config)).toBe(false)
    expect(sim.requests).toEqual([])
  })

  it('exits 64 when no registry is given', async () => {
    const run = await runCli(['--config', config, '--endpoint', sim.url])
    expect(run.code).toBe(64)
    expect(run.stderr).toMatch(/no registry given/)
    expect(run.stderr).toMatch(/fix: pass --registry/)
  })

  it('exits 69 at once when AWS_EC2_METADATA_DISABLED=true, asking nothing', async () => {
    const run = await write([], { AWS_EC2_METADATA_DISABLED: 'true' })
    expect(run.code).toBe(69)
    expect(run.stderr).toMatch(/AWS_EC2_METADATA_DISABLED=true/)
    expect(sim.requests).toEqual([])
    expect(existsSync(config)).toBe(false)
  })

  it('exits 69 on a token 403 and leaves the file byte-identical', async () => {
    const before = seed('{"auths":{"x":{"auth":"dTpw"}}}')
    sim.setFaults({ routes: { token: { status: 403 } } })
    const run = await write()
    expect(run.code).toBe(69)
    expect(run.stderr).toMatch(/HTTP 403/)
    expect(run.stderr).toMatch(/fix: .*--http-endpoint enabled/)
    expect(run.stderr.match(/fix/g)).toHaveLength(1)
    expect(readFileSync(config).equals(before)).toBe(true)
  })

  it('exits 65 when IMDS keeps answering with unusable data', async () => {
    sim.setFaults({ routes: { pkcs7: { body: 'garbage!' } } })
    const run = await write(['--timeout', '1'])
    expect(run.code).toBe(65)
    expect(run.stderr).toMatch(/unusable data .*not base64/)
    expect(existsSync(config)).toBe(false)
  })

  it('cuts off a 300 MB PKCS7 at 64 KiB: exit 65 by its deadline, nothing written, memory bounded', async () => {
    sim.setFaults({ routes: { pkcs7: { oversizedBytes: 300 * 1024 * 1024 } } })
    // GNU time reports the peak RSS (KB) on the last line of stderr.
    const time = existsSync('/usr/bin/time') ? ['/usr/bin/time', '-f', 'maxrss %M'] : undefined
    const run = await runCli(['-r', 'pierone.example.com', '-c', config, '--endpoint', sim.url, '--timeout', '2'], {
      timeoutMs: 30_000,
      ...(time ? { prefix: time } : {}),
    })
    expect(run.code).toBe(65)
    expect(run.ms).toBeLessThan(8000)
    expect(run.stderr).toMatch(/unusable data for 2 s: the signature response is larger than 64 KiB/)
    expect(existsSync(config)).toBe(false)
    if (time) expect(Number(/maxrss (\d+)\s*$/.exec(run.stderr)![1])).toBeLessThan(200 * 1024)
  })

  it('ends by itself within its deadline when a body stalls forever', async () => {
    sim.setFaults({ routes: { document: { stallBody: true } } })
    const run = await write(['--timeout', '2'])
    expect(run.code).toBe(69)
    expect(run.ms).toBeLessThan(4000)
  })

  it('exits 65, writing nothing, when the PKCS7 embeds a different document', async () => {
    const confused = await startImdsSimulator({ signedDocument: '{"instanceId":"i-other"}' })
    try {
      const run = await runCli(['-r', 'pierone.example.com', '-c', config, '--endpoint', confused.url, '--timeout', '1'])
      expect(run.code).toBe(65)
      expect(run.stderr).toMatch(/unusable data for 1 s: the PKCS7 signature embeds a different document than the one served/)
      expect(existsSync(config)).toBe(false)
    } finally {
      await confused.close()
    }
  })

  it.each([
    ['an empty SEQUENCE', () => 'MAA='],
    [
      'a length that lies',
      () =>
        Buffer.concat([Buffer.from([0x30, 0x82, 0x7f, 0xff]), Buffer.from(sim.pkcs7.replace(/\n/g, ''), 'base64').subarray(2)]).toString(
          'base64',
        ),
    ],
  ])('exits 65, writing nothing, when the PKCS7 is %s', async (_, body) => {
    sim.setFaults({ routes: { pkcs7: { body: body() } } })
    const run = await write(['--timeout', '1'])
    expect(run.code).toBe(65)
    expect(run.stderr).toMatch(/unusable data for 1 s: the PKCS7 signature is not a well-formed PKCS7 SignedData/)
    expect(existsSync(config)).toBe(false)
  })

  it('--dry-run prints which keys would change and the mode and owner, no value, and writes nothing', async () => {
    const before = seed('{"auths":{"other.example.com":{"auth":"dXNlcjpwYXNz"}}}', 0o640)
    const run = await write(['--dry-run'])
    expect(run.code).toBe(0)
    expect(readFileSync(config).equals(before)).toBe(true)
    const { uid, gid } = statSync(config)
    expect(run.stdout).toBe(`# ${config} (would be written; mode 0640, owner ${uid}:${gid})\n+ auths["pierone.example.com"]\n`)
    expect(run.stderr).toContain(`would write pierone.example.com to ${config}`)
    expect(readdirSync(join(dir, 'docker'))).toEqual(['config.json'])

    const again = await write()
    expect(again.code).toBe(0)
    expect((await write(['--dry-run'])).stdout).toBe(`# ${config} (unchanged; mode 0640, owner ${uid}:${gid})\n`)
  })

  it('--dry-run names a file it would create, 0600 and owned by whoever creates it', async () => {
    const run = await write(['--dry-run'])
    expect(run.code).toBe(0)
    expect(run.stdout).toBe(
      `# ${config} (would be created; mode 0600, owner ${process.geteuid!()}:${process.getegid!()})\n+ auths["pierone.example.com"]\n`,
    )
    expect(existsSync(config)).toBe(false)
  })

  it('writes where Docker reads a top key spelt "AUTHS" after "auths", replacing a login there, and prints no value', async () => {
    // Go's decoder reads both as auths and merges them, the later winning: the entry goes into "AUTHS".
    seed('{"auths":{},"AUTHS":{"pierone.example.com":{"auth":"U0VDUkVUMDE6eA=="}}}')
    const run = await write()
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toContain('replaced auths["pierone.example.com"], which held a login this tool did not write (user "SECRET01")')
    expect(run.stderr).toMatch(/the keys "auths", "AUTHS" are all read as "auths"/)
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/U0VDUkVUM/)
    const written = JSON.parse(readFileSync(config, 'utf8'))
    expect(written.auths).toEqual({})
    expect(decoded(written.AUTHS['pierone.example.com'].auth)).toMatch(/^instance-identity-document:/)
  })

  it('refuses (78) a write that would grow the file past the 32 MiB it can read back', async () => {
    // 30 MB on one line is about 34 MB in Docker's layout: a file this tool, and its remove, would then refuse.
    const before = seed(`{"auths":{},"pad":[${Array(1_300_000).fill('"aaaaaaaaaaaaaaaaaaaa"').join(',')}]}`)
    const run = await write()
    expect(run.code).toBe(78)
    expect(run.stderr).toContain(`${config} would grow past 32 MiB in Docker's layout; nothing was changed`)
    expect(readFileSync(config).equals(before)).toBe(true)
    expect(readdirSync(join(dir, 'docker'))).toEqual(['config.json'])
  }, 60_000)

  it('--dry-run escapes what a terminal would act on in the keys it names', async () => {
    // An older entry of this tool under another spelling of our key is removed, and named.
    const key = 'https://pierone.example.com/\u202e\u007f\u009b'
    seed(JSON.stringify({ auths: { [key]: { auth: Buffer.from(`${defaultUsername}:old`).toString('base64') } } }))
    const run = await write(['--dry-run'])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('- auths["https://pierone.example.com/\\u202e\\u007f\\u009b"]')
    expect(run.stdout).not.toMatch(/[\u007f-\u009f\u202e]/)
  })

  it('--json prints one object describing the outcome, without secrets', async () => {
    const run = await write(['--json'])
    expect(run.code).toBe(0)
    const report = validJson(run.stdout, 'write')
    expect(report).toMatchObject({
      ok: true,
      exitCode: 0,
      command: 'write',
      dryRun: false,
      endpoint: `${sim.url}/`,
      registries: ['pierone.example.com'],
      identity: { instanceId: 'i-0123456789abcdef0', accountId: '123456789012', region: 'eu-central-1', availabilityZone: 'eu-central-1a' },
      configs: [
        {
          path: config,
          source: '--config',
          target: config,
          action: 'written',
          added: ['pierone.example.com'],
          updated: [],
          removed: [],
          warnings: [],
          error: null,
        },
      ],
      error: null,
    })
    expect(typeof report.durationMs).toBe('number')
    expect(run.stdout.trim().split('\n')).toHaveLength(1)

    const again = validJson((await write(['--json'])).stdout, 'write')
    expect(again.configs[0].action).toBe('unchanged')

    sim.setFaults({ routes: { token: { status: 403 } } })
    const failed = await write(['--json', '--quiet'])
    expect(failed.code).toBe(69)
    expect(validJson(failed.stdout, 'write')).toMatchObject({
      ok: false,
      exitCode: 69,
      identity: null,
      configs: [],
      error: { exitCode: 69 },
    })
  })

  it('--quiet prints errors only, --verbose prints each step', async () => {
    const quiet = await write(['--quiet'])
    expect(quiet.code).toBe(0)
    expect(quiet.stderr).toBe('')
    const verbose = await write(['--verbose'])
    expect(verbose.stderr).toMatch(/asking IMDS at .* for the identity \(pkcs7\), deadline 5 s/)
    expect(verbose.stderr).toMatch(/identity: instance i-0123456789abcdef0, account 123456789012, region eu-central-1/)
  })

  it('--help documents the exit codes and the three ways to run it; --version prints the version', async () => {
    const help = await runCli(['--help'])
    expect(help.code).toBe(0)
    for (const text of [
      '--registry <host[:port]>',
      'Exit codes:',
      '64  usage error',
      '73  cannot write',
      'systemd unit',
      'cloud-init',
      'npx',
    ]) {
      expect(help.stdout).toContain(text)
    }
    const version = await runCli(['--version'])
    expect(version.code).toBe(0)
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it('finds IMDS through AWS_EC2_METADATA_SERVICE_ENDPOINT when no --endpoint is given', async () => {
    const run = await runCli(['-r', 'pierone.example.com', '-c', config, '--json'], { env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: sim.url } })
    expect(run.code).toBe(0)
    expect(validJson(run.stdout, 'write').endpoint).toBe(`${sim.url}/`)
  })

  it('treats an empty or whitespace-only file as empty', async () => {
    seed(' \n\t\n')
    const run = await write()
    expect(run.code).toBe(0)
    expect(Object.keys(JSON.parse(readFileSync(config, 'utf8')).auths)).toEqual(['pierone.example.com'])
  })

  it('is also reachable as `write`', async () => {
    const run = await runCli(['write', '-r', 'pierone.example.com', '-c', config, '--endpoint', sim.url])
    expect(run.code).toBe(0)
    expect(existsSync(config)).toBe(true)
  })

  it('20 parallel runs with different registries all keep their entries', async () => {
    seed('{"auths":{"keep.example.com":{"auth":"dTpw"}},"k":"v"}')
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        runCli(['-r', `r${i}.example.com`, '-c', config, '--endpoint', sim.url, '--timeout', '20'], { timeoutMs: 60_000 }),
      ),
    )
    expect(runs.map((r) => r.code)).toEqual(Array(20).fill(0))
    const result = JSON.parse(readFileSync(config, 'utf8'))
    expect(Object.keys(result.auths).sort()).toEqual(
      ['keep.example.com', ...Array.from({ length: 20 }, (_, i) => `r${i}.example.com`)].sort(),
    )
    expect(result.k).toBe('v')
    expect(readdirSync(join(dir, 'docker'))).toEqual(['config.json'])
  })

  it('waits for a lock held by a live process, then exits 73 with a clear message', async () => {
    seed('{}')
    const holder = JSON.stringify({
      pid: process.pid,
      startTime: readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19],
      bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    })
    writeFileSync(`${config}.lock`, holder)
    const run = await write([], { IID_DOCKER_AUTH_LOCK_TIMEOUT: '1' })
    expect(run.code).toBe(73)
    expect(run.stderr).toContain(`waiting for process ${process.pid}`)
    expect(run.stderr).toMatch(/is held by process \d+, still running after 1 s/)
    expect(readFileSync(config, 'utf8')).toBe('{}')
  })

  it('exits 0 at once when the entry is already current, even while a live run holds the lock', async () => {
    expect((await write()).code).toBe(0)
    const before = readFileSync(config)
    const holder = JSON.stringify({ ...currentOwner(), pid: process.pid, startTime: processStartTime(process.pid)! })
    writeFileSync(`${config}.lock`, holder)
    const env = { IID_DOCKER_AUTH_LOCK_TIMEOUT: '10' }
    const runs = [await write([], env), await runCli(['remove', '-r', 'other.example.com', '-c', config], { env })]
    for (const run of runs) {
      expect(run.code).toBe(0)
      expect(run.ms).toBeLessThan(8000) // it would otherwise wait the 10 s and exit 73
    }
    expect(runs[0]!.stderr).toContain('already current')
    expect(readFileSync(`${config}.lock`, 'utf8')).toBe(holder)
    expect(readFileSync(config).equals(before)).toBe(true)
  })

  it('still cleans up a lock left by a dead process when the entry is already current', async () => {
    expect((await write()).code).toBe(0)
    const child = spawn(process.execPath, ['-e', '0'])
    await new Promise((r) => child.on('exit', r))
    writeFileSync(`${config}.lock`, JSON.stringify({ ...currentOwner(), pid: child.pid }))
    const run = await write([], { IID_DOCKER_AUTH_LOCK_TIMEOUT: '10' })
    expect(run.code).toBe(0)
    expect(run.stderr).toContain('already current')
    expect(readdirSync(join(dir, 'docker'))).toEqual(['config.json'])
  })

  it('recovers a lock left by a dead process', async () => {
    seed('{}')
    writeFileSync(`${config}.lock`, JSON.stringify({ pid: 2 ** 22 + 1, startTime: '1', bootId: 'x' }))
    const run = await write()
    expect(run.code).toBe(0)
    expect(readdirSync(join(dir, 'docker'))).toEqual(['config.json'])
  })
})

describe('whatever sits at the lock path', () => {
  const ours = () =>
    JSON.stringify({
      auths: {
        'pierone.example.com': { auth: buildAuth(defaultUsername, 'MIIB-an-older-one', false) },
        'other.example.com': { auth: 'dXNlcjpwYXNz' },
      },
    })

  it.each([
    ['a directory', 'a directory', (p: string) => mkdirSync(p)],
    ['a dangling symlink', 'a symbolic link', (p: string) => symlinkSync('nowhere', p)],
    ['a FIFO', 'a FIFO', (p: string) => execFileSync('mkfifo', [p])],
  ])('%s: write and remove exit 73 by the lock deadline, naming it, the config byte-identical', async (_, what, make) => {
    const before = seed(ours())
    make(`${config}.lock`)
    const env = { IID_DOCKER_AUTH_LOCK_TIMEOUT: '1' }
    const runs = [
      await runCli(['-r', 'pierone.example.com', '-c', config, '--endpoint', sim.url, '--timeout', '5'], { env, timeoutMs: 15_000 }),
      await runCli(['remove', '-r', 'pierone.example.com', '-c', config], { env, timeoutMs: 15_000 }),
    ]
    for (const run of runs) {
      expect(run.code).toBe(73)
      expect(run.ms).toBeLessThan(10_000)
      expect(run.stderr).toContain(`${config}.lock is ${what}, not a lock file`)
      expect(run.stderr).toMatch(/fix: remove it/)
      expect(readFileSync(config).equals(before)).toBe(true)
    }
  })
})

describe('whatever sits at the lock path, when the entry is already current', () => {
  it('exits 0 and warns, naming it and the fix', async () => {
    expect((await write()).code).toBe(0)
    const before = readFileSync(config)
    mkdirSync(`${config}.lock`)
    const run = await write([], { IID_DOCKER_AUTH_LOCK_TIMEOUT: '1' })
    expect(run.code).toBe(0)
    expect(run.stderr).toContain(`warning: ${config}: ${config}.lock is a directory, not a lock file; fix: remove it`)
    expect(run.stderr).toContain('already current')
    expect(readFileSync(config).equals(before)).toBe(true)
  })
})

describe('output', () => {
  it('escapes control characters from IMDS in -v lines: no colour, no forged line', async () => {
    const hostile = await startImdsSimulator({
      document: { instanceId: 'i-0\u001b[31mred\u001b[0m\niid-docker-auth: wrote pierone.example.com to /etc/passwd\u202e' },
    })
    try {
      const run = await runCli(['-v', '--registry', 'pierone.example.com', '--config', config, '--endpoint', hostile.url, '--timeout', '5'])
      expect(run.code).toBe(0)
      expect(run.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/)
      expect(run.stderr).toContain(
        'identity: instance i-0\\u001b[31mred\\u001b[0m\\u000aiid-docker-auth: wrote pierone.example.com to /etc/passwd\\u202e, account',
      )
      expect(run.stderr.split('\n').filter((l) => l.startsWith('iid-docker-auth: wrote'))).toEqual([
        `iid-docker-auth: wrote pierone.example.com to ${config}`,
      ])
    } finally {
      await hostile.close()
    }
  })

  it('ends with 0 and no noise when the reader of stdout has gone away (`| true`), and 64 still goes to stderr', async () => {
    // `true` exits without reading, so the CLI's write to stdout meets a closed pipe (EPIPE).
    const gone = await runProgram('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${cliPath}" --help | true`])
    expect(gone.status).toBe(0)
    expect(gone.stderr).toBe('')
    const usage = await runProgram('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${cliPath}" --no-such-flag | true`])
    expect(usage.status).toBe(64)
    expect(usage.stderr).toMatch(/^iid-docker-auth: error: unknown option '--no-such-flag'/)
  })
})

describe('what the user asked, read the same way by every command', () => {
  const r = ['-r', 'pierone.example.com']
  const all = ['write', 'check', 'remove', 'prepare-dirs']
  it.each<[string, string[], Record<string, string>, string[], RegExp]>([
    ['an empty IID_DOCKER_AUTH_CONFIG', r, { IID_DOCKER_AUTH_CONFIG: '' }, all, /IID_DOCKER_AUTH_CONFIG "" names no config file/],
    ['IID_DOCKER_AUTH_CONFIG=,', r, { IID_DOCKER_AUTH_CONFIG: ',' }, all, /IID_DOCKER_AUTH_CONFIG "," names no config file/],
    ["-c ''", [...r, '-c', ''], {}, all, /--config "" names no config file/],
    ["-r ''", ['-r', ''], {}, ['write', 'check', 'remove'], /--registry "" names no registry/],
    ['-r ,', ['-r', ','], {}, ['write', 'check', 'remove'], /--registry "," names no registry/],
    [
      'an empty IID_DOCKER_AUTH_REGISTRIES',
      [],
      { IID_DOCKER_AUTH_REGISTRIES: ' ' },
      ['write', 'check', 'remove'],
      /IID_DOCKER_AUTH_REGISTRIES " " names no registry/,
    ],
  ])('refuses %s with 64, never falling back to a default file', async (_, args, env, commands, message) => {
    for (const command of commands) {
      const imds = command === 'write' || command === 'check' ? ['--endpoint', sim.url, '--timeout', '1'] : []
      const run = await runCli([command, ...(command === 'prepare-dirs' ? args.filter((a) => !r.includes(a)) : args), ...imds], {
        env: { DOCKER_CONFIG: join(dir, 'docker'), ...env },
      })
      expect(run.code, `${command}: ${run.stderr}`).toBe(64)
      expect(run.stderr).toMatch(message)
    }
    expect(existsSync(join(dir, 'docker'))).toBe(false)
    expect(sim.requests).toEqual([])
  })

  it('refuses a repository path and a non-ASCII name, keeps Docker’s own URL spellings, and caps what it echoes', async () => {
    const path = await write(['-r', 'reg.example.com/team/app'])
    expect(path.code).toBe(64)
    expect(path.stderr).toMatch(/names a repository path \("\/team\/app"\); a credential is per registry host/)
    const idn = await write(['-r', 'bücher.example'])
    expect(idn.code).toBe(64)
    expect(idn.stderr).toContain('fix: use its punycode form: --registry xn--bcher-kva.example')
    const long = await write(['-r', 'a'.repeat(100_000)])
    expect(long.code).toBe(64)
    expect(long.stderr).toContain('…(100000 characters)')
    expect(long.stderr.length).toBeLessThan(1000)
    for (const spelling of ['https://pierone.example.com/', 'https://pierone.example.com/v1/', 'https://pierone.example.com/v2/']) {
      const run = await runCli(['-r', spelling, '-c', config, '--endpoint', sim.url, '--json'])
      expect(run.code).toBe(0)
      expect(run.stderr).toContain(`registry ${JSON.stringify(spelling)} reduced to pierone.example.com`)
      expect(validJson(run.stdout, 'write').registries).toEqual(['pierone.example.com'])
    }
  })

  it('says a mistyped command is not one, and suggests the nearest', async () => {
    const run = await runCli(['instal', '-r', 'pierone.example.com'])
    expect(run.code).toBe(64)
    expect(run.stderr).toContain('"instal" is not a command; did you mean `install`?')
    const far = await runCli(['frobnicate'])
    expect(far.code).toBe(64)
    expect(far.stderr).toMatch(/"frobnicate" is not a command; the commands are write, check, install/)
  })

  it('check --help names check’s own IMDS deadline', async () => {
    const help = await runCli(['check', '--help'])
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(
      /--timeout <seconds> overall deadline for getting the identity from IMDS \(default 10\)/,
    )
  })

  it('does not crash in a deleted working directory; a relative --config there is a usage error', async () => {
    const gone = join(dir, 'gone')
    const inGone = (args: string) =>
      runProgram('sh', ['-c', `mkdir "$0" && cd "$0" && rmdir "$0" && exec "${process.execPath}" "${cliPath}" ${args}`, gone])
    const version = await inGone('--version')
    expect(version.status, version.stderr).toBe(0)
    expect(version.stderr).toBe('')
    const relative = await inGone(`-r pierone.example.com -c rel.json --endpoint ${sim.url}`)
    expect(relative.status).toBe(64)
    expect(relative.stderr).toContain('--config "rel.json" is a relative path, and the working directory no longer exists')
    const absolute = await inGone(`-r pierone.example.com -c "${config}" --endpoint ${sim.url}`)
    expect(absolute.status, absolute.stderr).toBe(0)
  })

  it('-c /dev/stdout on a pipe is not a regular file (78), not a lock failure', async () => {
    const run = await runProgram('sh', [
      '-c',
      `"${process.execPath}" "${cliPath}" -r pierone.example.com -c /dev/stdout --endpoint ${sim.url} | cat`,
    ])
    expect(run.status).toBe(0)
    const piped = await runProgram('bash', [
      '-o',
      'pipefail',
      '-c',
      `"${process.execPath}" "${cliPath}" -r pierone.example.com -c /dev/stdout --endpoint ${sim.url} | cat`,
    ])
    expect(piped.status).toBe(78)
    expect(piped.stderr).toContain('/dev/stdout is a pipe, not a regular file; nothing was changed')
  })
})
