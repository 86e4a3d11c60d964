// `npm run demo`: the tool's main job against the local IMDS simulator, since this machine is not
// on EC2. Starts the simulator on a loopback port, runs the real CLI into a temporary config.json
// that already holds someone else's entry, and shows the file's keys before and after (no values,
// so no credential is ever printed).

import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { goObject, parseConfig } from '../src/config/docker-config.js'
import { startImdsSimulator } from './imds-simulator.js'

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'iid-docker-auth.cjs')

function runCli(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'inherit', 'inherit'] })
    child.on('error', reject)
    child.on('exit', (code) => resolve(code ?? 1))
  })
}

const sim = await startImdsSimulator()
const dir = mkdtempSync(join(tmpdir(), 'iid-docker-auth-demo-'))
const config = join(dir, '.docker', 'config.json')
try {
  const args = ['--registry', 'pierone.example.com', '--config', config, '--endpoint', sim.url, '--timeout', '10']
  mkdirSync(dirname(config), { mode: 0o700 })
  // Another tool's entry and a field Docker itself would drop: both must survive.
  writeFileSync(config, '{"auths":{"other.example.com":{"auth":"dXNlcjpwYXNz"}},"x-custom":{"big":12345678901234567890}}\n', {
    mode: 0o600,
  })
  console.log(`IMDS simulator listening on ${sim.url}; config file ${config}\n`)
  const show = (): void => {
    const root = parseConfig(readFileSync(config), config).root
    console.log(`${config} (mode ${(statSync(config).mode & 0o777).toString(8)}; keys only):`)
    for (const { key } of root.members) {
      const inside =
        key === 'auths'
          ? `: ${goObject(root, 'auths')
              .members.map((m) => m.key)
              .join(', ')}`
          : ''
      console.log(`  ${key}${inside}`)
    }
  }
  show()
  console.log(`\n$ iid-docker-auth ${args.join(' ')}`)
  const first = await runCli(args)
  console.log(`exit code ${first}\n`)
  show()
  console.log('\nA second run finds the entry current and leaves the file alone:')
  console.log(`$ iid-docker-auth ${args.join(' ')}`)
  const second = await runCli(args)
  console.log(`exit code ${second}`)
  process.exitCode = first || second
} finally {
  await sim.close()
  rmSync(dir, { recursive: true, force: true })
}
