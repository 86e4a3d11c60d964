// npm run bench: the boot-path cost of iid-docker-auth, as ratios against baselines measured in the
// same run: `node -e 0`, and the naive script a user would write instead (the SDK's README example,
// bundled with esbuild). Prints a table and exits 1 when a target is missed. Everything runs against
// the IMDS simulator on loopback.
import { execFileSync, spawn } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { fetchNode, nodeVersion } = await import(join(root, 'scripts', 'package', 'runtime.mjs'))
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
// npm run bench builds them (scripts/package.mjs) before it starts.
const packages = join(root, 'dist', 'packages')
const executable = join(packages, 'iid-docker-auth-linux-x64')
// The Node release the executable carries, to run the npm bundle on for a like-for-like comparison.
const pinnedNode = join(fetchNode('x64'), 'bin', 'node')
// Sizes now: the npm pack below rebuilds dist/ (prepack), packages included.
const mbOf = (file) => Number((statSync(file).size / 1e6).toFixed(1))
const sizes = {
  executable: mbOf(executable),
  deb: mbOf(join(packages, `iid-docker-auth_${version}_amd64.deb`)),
  rpm: mbOf(join(packages, `iid-docker-auth-${version}-1.x86_64.rpm`)),
}
const { startImdsSimulator } = await import(join(root, 'dist', 'sim', 'imds-simulator.js'))
const cli = join(root, 'bin', 'iid-docker-auth.cjs')
const runs = Number(process.env.BENCH_RUNS ?? 40)

// A boot has no NODE_EXTRA_CA_CERTS or NODE_OPTIONS; where this machine sets them, both the baseline
// and the tool would pay for them.
const env = { ...process.env }
for (const name of ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS', 'IID_DOCKER_AUTH_REGISTRIES', 'IID_DOCKER_AUTH_CONFIG']) delete env[name]

const sim = await startImdsSimulator()
const work = mkdtempSync(join(tmpdir(), 'iid-bench-'))
const config = join(work, 'docker', 'config.json')
mkdirSync(dirname(config), { mode: 0o700 })

const few = JSON.stringify({
  auths: { 'a.example.com': { auth: 'dTpw' }, 'b.example.com': { auth: 'dTpw' }, 'c.example.com': { auth: 'dTpw' } },
  psFormat: 'table',
})
// 10,000 entries in the layout Docker writes (MarshalIndent with tabs): about 1.5 MB.
const manyValue = {
  auths: Object.fromEntries(
    Array.from({ length: 10_000 }, (_, i) => [
      `registry-${i}.example.com`,
      { auth: Buffer.from(`user${i}:password-${i}-0123456789abcdefghijklmn`).toString('base64'), email: `u${i}@example.com` },
    ]),
  ),
}
const many = `${JSON.stringify(manyValue, null, '\t')}\n`
// The same entries as one line, as a config-management tool might write them: every entry must be laid out anew.
const manyCompact = JSON.stringify(manyValue)
const write = ['-r', 'pierone.example.com', '-c', config, '--endpoint', sim.url, '-q']
const oneLiner = `set -e
TOKEN=$(curl -sf -X PUT ${sim.url}/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
PKCS7=$(curl -sf ${sim.url}/latest/dynamic/instance-identity/pkcs7 -H "X-aws-ec2-metadata-token: $TOKEN")
AUTH=$(printf '%s:%s' instance-identity-document "$PKCS7" | base64 -w0)
mkdir -p ${dirname(config)}
cat > ${config} <<EOF
{"auths":{"pierone.example.com":{"auth":"$AUTH"}}}
EOF`

/** One measured process: wall time from spawn to exit, and peak RSS from GNU time. */
function measureOnce(command, args, childEnv = env, input = undefined) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn('/usr/bin/time', ['-f', '%M', command, ...args], {
      env: childEnv,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'],
    })
    if (input !== undefined) child.stdin.end(input)
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      if (code !== 0) return reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`))
      resolve({ ms, rssKb: Number(stderr.trim().split('\n').pop()) })
    })
  })
}

/** Runs a process without blocking this one, which serves IMDS to it. */
function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: 'ignore', ...options })
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}`))))
  })
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

// As the systemd unit runs it: NODE_COMPILE_CACHE points at its CacheDirectory= (Node 22.1 and later
// use it; Node 20 ignores it). The warm-up round below fills it, as a first boot would.
const unitEnv = { ...env, NODE_COMPILE_CACHE: join(work, 'cache') }
mkdirSync(unitEnv.NODE_COMPILE_CACHE, { mode: 0o700 })

// What a user would write instead: @aws-sdk/ec2-metadata-service exactly as its README shows (the
// token, then each document with request()), bundled with esbuild's defaults for Node.
const naive = join(work, 'naive.cjs')
writeFileSync(
  join(work, 'naive-source.cjs'),
  `const { MetadataService } = require(${JSON.stringify(join(root, 'node_modules', '@aws-sdk', 'ec2-metadata-service'))});
(async () => {
  const metadataService = new MetadataService({});
  const token = await metadataService.fetchMetadataToken();
  const document = await metadataService.request("/latest/dynamic/instance-identity/document", {});
  const pkcs7 = await metadataService.request("/latest/dynamic/instance-identity/pkcs7", {});
  if (!token || !document || !pkcs7) process.exit(1);
})();
`,
)
await build({ entryPoints: [join(work, 'naive-source.cjs')], outfile: naive, bundle: true, platform: 'node', logLevel: 'warning' })
const naiveEnv = { ...env, AWS_EC2_METADATA_SERVICE_ENDPOINT: sim.url }

const naiveName = 'naive: the SDK README example, bundled (token, document, pkcs7)'
const unitName = 'write, 3 entries, as the unit runs it'
const helperName = 'docker-credential-iid get (the helper, on demand)'
const bundleName = `write, 3 entries, Node ${nodeVersion} + the npm bundle, as the unit runs it`
const executableName = `write, 3 entries, the single executable (Node ${nodeVersion})`
const scenarios = [
  { name: 'node -e 0 (baseline)', command: process.execPath, args: ['-e', '0'] },
  { name: naiveName, env: naiveEnv, command: process.execPath, args: [naive] },
  {
    name: unitName,
    env: unitEnv,
    command: process.execPath,
    args: [cli, ...write],
    before: () => writeFileSync(config, few, { mode: 0o600 }),
  },
  {
    name: 'already current, 3 entries',
    env: unitEnv,
    command: process.execPath,
    args: [cli, ...write],
    before: async () => {
      writeFileSync(config, few, { mode: 0o600 })
      await run(process.execPath, [cli, ...write])
    },
  },
  {
    name: 'write, config with 10,000 entries (1.5 MB)',
    env: unitEnv,
    command: process.execPath,
    args: [cli, ...write],
    before: () => writeFileSync(config, many, { mode: 0o600 }),
  },
  {
    name: 'write, 10,000 entries on one line',
    env: unitEnv,
    command: process.execPath,
    args: [cli, ...write],
    before: () => writeFileSync(config, manyCompact, { mode: 0o600 }),
  },
  {
    name: 'write, 3 entries, no compile cache (npx, cloud-init)',
    command: process.execPath,
    args: [cli, ...write],
    before: () => writeFileSync(config, few, { mode: 0o600 }),
  },
  {
    name: helperName,
    env: {
      ...unitEnv,
      IID_DOCKER_AUTH_REGISTRIES: 'pierone.example.com',
      IID_DOCKER_AUTH_ENDPOINT: sim.url,
      IID_DOCKER_AUTH_ENV_FILE: join(work, 'no-such-file'),
    },
    command: process.execPath,
    args: [join(root, 'bin', 'docker-credential-iid.cjs'), 'get'],
    input: 'pierone.example.com',
  },
  { name: 'shell one-liner (curl, base64, heredoc)', command: '/bin/sh', args: ['-c', oneLiner] },
  {
    name: bundleName,
    env: unitEnv,
    command: pinnedNode,
    args: [cli, ...write],
    before: () => writeFileSync(config, few, { mode: 0o600 }),
  },
  {
    name: executableName,
    env: unitEnv,
    command: executable,
    args: write,
    before: () => writeFileSync(config, few, { mode: 0o600 }),
  },
]

const results = new Map(scenarios.map((s) => [s.name, []]))
/** The scenarios in a new random order (Fisher-Yates). */
const shuffled = () => {
  const order = [...scenarios]
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[order[i], order[j]] = [order[j], order[i]]
  }
  return order
}
// Warm-up, then rounds that interleave the scenarios, so that drift in the machine hits all alike,
// each round in a new order: a run just after a 1.5 MB write and fsync pays for the disk's catching
// up, and in a fixed order that always fell on the same scenario (on Node 20, which ignores the
// compile cache, two rows that run the same thing differed by a tenth).
for (const s of scenarios) {
  await s.before?.()
  await measureOnce(s.command, s.args, s.env, s.input)
}
for (let round = 0; round < runs; round++) {
  for (const s of shuffled()) {
    await s.before?.()
    results.get(s.name).push(await measureOnce(s.command, s.args, s.env, s.input))
  }
}

const stats = Object.fromEntries(
  [...results].map(([name, samples]) => [name, { ms: median(samples.map((x) => x.ms)), rssKb: median(samples.map((x) => x.rssKb)) }]),
)
const base = stats['node -e 0 (baseline)']

// IMDS appearing late: the file must be written within 1 s of IMDS starting to listen.
const lateDelays = []
for (let i = 0; i < Number(process.env.BENCH_LATE_RUNS ?? 20); i++) {
  const late = await startImdsSimulator({ listenAfterMs: 1000 + Math.random() * 4000 })
  writeFileSync(config, few, { mode: 0o600 })
  await measureOnce(
    process.execPath,
    [cli, '-r', 'pierone.example.com', '-c', config, '--endpoint', late.url, '--timeout', '30', '-q'],
    unitEnv,
  )
  lateDelays.push(statSync(config).mtimeMs - late.listeningSince())
  await late.close()
}

// Packaging: the tarball, and installing it versus installing the unbundled package with its dependencies.
const packDir = join(work, 'pack')
mkdirSync(packDir)
const tarball = join(
  packDir,
  execFileSync('npm', ['pack', '--silent', '--pack-destination', packDir], { cwd: root, env, encoding: 'utf8' }).trim().split('\n').pop(),
)
const tarballKb = statSync(tarball).size / 1024
const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }))

const unbundled = join(work, 'unbundled')
mkdirSync(join(unbundled, 'bin'), { recursive: true })
execFileSync('cp', ['-r', join(root, 'dist'), join(unbundled, 'dist')])
rmSync(join(unbundled, 'dist', 'sim'), { recursive: true, force: true })
copyFileSync(join(root, 'package.json'), join(unbundled, 'package.json'))
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
writeFileSync(
  join(unbundled, 'package.json'),
  JSON.stringify({
    name: 'iid-docker-auth-unbundled',
    version: rootManifest.version,
    type: 'module',
    bin: { 'iid-docker-auth': 'bin/cli.mjs' },
    dependencies: Object.fromEntries(['commander', '@aws-sdk/ec2-metadata-service'].map((d) => [d, rootManifest.devDependencies[d]])),
  }),
)
writeFileSync(join(unbundled, 'bin', 'cli.mjs'), "#!/usr/bin/env node\nimport '../dist/src/main.js'\n")
const unbundledTarball = join(
  packDir,
  execFileSync('npm', ['pack', '--silent', '--pack-destination', packDir], { cwd: unbundled, env, encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop(),
)

async function installAndRun(tgz) {
  const times = []
  for (let i = 0; i < 3; i++) {
    const dest = mkdtempSync(join(work, 'install-'))
    const started = process.hrtime.bigint()
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--silent', tgz], { cwd: dest })
    await run(join(dest, 'node_modules', '.bin', 'iid-docker-auth'), [...write])
    times.push(Number(process.hrtime.bigint() - started) / 1e6)
  }
  return median(times)
}
const installBundled = await installAndRun(tarball)
const installUnbundled = await installAndRun(unbundledTarball)

await sim.close()
rmSync(work, { recursive: true, force: true })

// The registry side: verify's core and its HTTP mode (scripts/bench-verify.mjs).
const { benchVerify, verifyRows } = await import('./bench-verify.mjs')
const verifyResult = await benchVerify()

// The table.
const rows = []
const checks = []
const target = (ok, text) => {
  checks.push(ok)
  return `${ok ? 'ok' : 'MISSED'}: ${text}`
}
const ratio = (v, b) => (v / b).toFixed(2)
const nodeMajor = Number(process.versions.node.split('.')[0])
// With the compile cache (Node 22 and later) the tool may cost a quarter more than the naive fetch;
// on Node 20, which has none, half more.
const naiveLimit = nodeMajor >= 22 ? 1.25 : 1.5
const naiveStats = stats[naiveName]
for (const s of scenarios) {
  const r = stats[s.name]
  let verdict = ''
  if (s.name === unitName) {
    verdict = `${target(r.ms / naiveStats.ms <= naiveLimit, `time <= ${naiveLimit}x the naive script (${ratio(r.ms, naiveStats.ms)}x)`)}; ${target(r.rssKb / base.rssKb <= 1.25, 'RSS <= 1.25x node -e 0')}`
  } else if (s.name.startsWith('already current')) {
    verdict = target(r.ms <= stats[unitName].ms * 1.05, 'no more than a writing run')
  } else if (s.name === helperName) {
    verdict = target(r.ms <= stats[unitName].ms * 1.05, `no more than the writer's run (${ratio(r.ms, stats[unitName].ms)}x)`)
  } else if (s.name === executableName) {
    // "No slower", with the same 5 % allowance for noise as the other no-more-than targets.
    verdict = target(r.ms <= stats[bundleName].ms * 1.05, `no slower than node + the bundle (${ratio(r.ms, stats[bundleName].ms)}x)`)
  } else if (s.name.startsWith('write, config with 10,000')) {
    verdict = target(r.ms / stats[unitName].ms <= 2, `<= 2x the 3-entry run (${ratio(r.ms, stats[unitName].ms)}x)`)
  }
  rows.push(
    `| ${s.name} | ${r.ms.toFixed(1)} | ${ratio(r.ms, base.ms)}x | ${(r.rssKb / 1024).toFixed(1)} | ${ratio(r.rssKb, base.rssKb)}x | ${verdict} |`,
  )
}
const lateMedian = median(lateDelays)
console.log(`iid-docker-auth bench: Node ${process.version}, ${runs} runs per scenario, medians; ratios against node -e 0 in the same run

| scenario | wall ms | vs node -e 0 | peak RSS MB | vs node -e 0 | target |
| --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

| other target | measured | verdict |
| --- | --- | --- |
| written after IMDS starts listening late (median of ${lateDelays.length}, start 1-5 s) | ${lateMedian.toFixed(0)} ms | ${target(lateMedian <= 1000, '<= 1000 ms')} |
| single executable iid-docker-auth-linux-x64 | ${sizes.executable} MB | - |
| iid-docker-auth_${version}_amd64.deb (xz) | ${sizes.deb} MB | ${target(sizes.deb <= 40, '<= 40 MB')} |
| iid-docker-auth-${version}-1.x86_64.rpm (xz) | ${sizes.rpm} MB | ${target(sizes.rpm <= 40, '<= 40 MB')} |
| npm pack tarball | ${tarballKb.toFixed(1)} KB | ${target(tarballKb <= 150, '<= 150 KB')} |
| runtime dependencies of the package | ${Object.keys(manifest.dependencies ?? {}).length} | ${target(Object.keys(manifest.dependencies ?? {}).length === 0, 'none')} |
| npm install of the tarball + first run (median of 3) | ${installBundled.toFixed(0)} ms | ${target(installBundled < installUnbundled, `cheaper than the unbundled package: ${installUnbundled.toFixed(0)} ms`)} |
${verifyRows(verifyResult, target).join('\n')}`)

// CI runs this for the record with BENCH_REPORT_ONLY=1 (.ci/run): a missed target is printed, not fatal there.
const met = checks.every(Boolean)
if (!met && process.env.BENCH_REPORT_ONLY === '1') console.log('\nSome targets were missed (exit 0 only because BENCH_REPORT_ONLY=1).')
process.exitCode = met || process.env.BENCH_REPORT_ONLY === '1' ? 0 : 1
