// The README's user-data documents must be valid cloud-config, checked by Debian's cloud-init.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { haveOrCi, repoRoot } from '../support/helpers.js'

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
const documents = [...readme.matchAll(/```yaml\n(#cloud-config\n[\s\S]*?)```/g)].map((m) => m[1]!)
const dir = mkdtempSync(join(tmpdir(), 'iid-cloud-init-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function schema(text: string): { status: number | null; output: string } {
  const file = join(dir, `user-data-${Math.random().toString(16).slice(2)}.yaml`)
  writeFileSync(file, text)
  const run = spawnSync('cloud-init', ['schema', '--config-file', file], { encoding: 'utf8' })
  if (run.error) throw run.error
  return { status: run.status, output: run.stdout + run.stderr }
}

describe.runIf(haveOrCi('cloud-init'))('README user-data', () => {
  it('has the packaged-image document (settings only) and the executable one (no npx, no npm at boot)', () => {
    expect(documents).toHaveLength(2)
    expect(documents[0]).toMatch(
      /^write_files:\n\s+- path: \/etc\/default\/iid-docker-auth\n[\s\S]*IID_DOCKER_AUTH_REGISTRIES=pierone\.example\.com/m,
    )
    expect(documents[1]).toMatch(/^bootcmd:\n[\s\S]*iid-docker-auth, install, --registry/m)
    expect(documents[1]).toMatch(/\[cloud-init-per, once, iid-docker-auth-first, iid-docker-auth, --registry, pierone\.example\.com/)
    for (const document of documents) expect(document).not.toMatch(/npx|npm install/)
  })

  it.each([0, 1])('document %i is valid cloud-config for cloud-init schema', (i) => {
    const result = schema(documents[i]!)
    expect(result.output).toMatch(/Valid cloud-config/)
    expect(result.status).toBe(0)
  })

  it('the same check refuses a broken document (so the check is real)', () => {
    const result = schema(documents[1]!.replace(/bootcmd:\n[\s\S]*/, 'bootcmd: iid-docker-auth --registry x\n'))
    expect(result.status).not.toBe(0)
    expect(result.output).toMatch(/bootcmd/)
  })
})
