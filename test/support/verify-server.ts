// `iid-docker-auth verify --listen` as a child process on a free loopback port, for the HTTP tests.
import { type ChildProcess, spawn } from 'node:child_process'
import { cliPath } from './helpers.js'

/** `verify --listen` on a free loopback port; resolves once it says where it listens. */
export async function startVerifyServer(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ url: string; child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [cliPath, 'verify', '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  })
  let stderr = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`verify --listen did not start: ${stderr}`)), 10_000)
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString()
      const m = /listening on (http:\/\/\S+)/.exec(stderr)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    child.on('exit', () => reject(new Error(`verify --listen exited: ${stderr}`)))
  })
  return { url, child, stderr: () => stderr }
}
