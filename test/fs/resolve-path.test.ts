// The one path resolver (src/fs/resolve-path.ts): walks as the kernel walks, recording every
// directory a name is looked up in and every link followed.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type PathWalk, targetOf, walkPath } from '../../src/fs/resolve-path.js'

const resolveTarget = (path: string): string => targetOf(path, walkPath(path))

describe('walkPath + targetOf', () => {
  let base: string
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'iid-resolve-'))
  })
  afterEach(() => rmSync(base, { recursive: true, force: true }))

  it('follows a `..` in a link from where the link really is, as the kernel does', async () => {
    mkdirSync(join(base, 'real', 'sub'), { recursive: true })
    symlinkSync(join(base, 'real', 'sub'), join(base, 'd'))
    symlinkSync('../config.json', join(base, 'real', 'sub', 'config.json'))
    writeFileSync(join(base, 'real', 'config.json'), '{}')
    expect(resolveTarget(join(base, 'd', 'config.json'))).toBe(join(base, 'real', 'config.json'))
  })
})

describe('walkPath', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'iid-walk-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('follows symlinks as the kernel does and records every directory a name is looked up in', () => {
    mkdirSync(join(dir, 'real', 'docker'), { recursive: true })
    symlinkSync('real/docker', join(dir, 'link'))
    symlinkSync('../docker/config.json', join(dir, 'real', 'docker', 'alias.json'))
    writeFileSync(join(dir, 'real', 'docker', 'config.json'), '{}')
    const w = walkPath(join(dir, 'link', 'alias.json'))
    expect(w.target).toBe(join(dir, 'real', 'docker', 'config.json'))
    // link is looked up in dir, then its target's names from dir again; alias.json's "../docker" from real/docker.
    expect(w.lookups.map((l) => l.dir)).toEqual([
      '/',
      ...dirsOf(dir),
      dir,
      dir,
      join(dir, 'real'),
      join(dir, 'real', 'docker'),
      join(dir, 'real'),
      join(dir, 'real', 'docker'),
    ])
    expect(w.blockedAt).toBeUndefined()
  })

  it('stops at the first missing name: the rest is what will be created', () => {
    const w = walkPath(join(dir, 'a', 'b', 'config.json'))
    expect(w.target).toBe(join(dir, 'a', 'b', 'config.json'))
    expect(w.lookups.at(-1)).toMatchObject({ dir, entryUid: undefined })
  })

  it('records each symlink it follows with its owner', () => {
    mkdirSync(join(dir, 'real'))
    symlinkSync('real', join(dir, 'link'))
    const w = walkPath(join(dir, 'link', 'config.json'))
    expect(w.links).toEqual([{ path: join(dir, 'link'), uid: process.geteuid!() }])
    expect(w.target).toBe(join(dir, 'real', 'config.json'))
  })

  it('calls a dangling link dangling: only a link under /proc may name a pipe or socket', () => {
    writeFileSync(join(dir, 'config.json'), '{}')
    // As a walk sees it when a user re-points a link between its look and ours: dangling then, a file now.
    const raced: PathWalk = {
      target: join(dir, 'gone', 'config.json'),
      lookups: [],
      links: [{ path: join(dir, 'link'), uid: 0 }],
      blockedAt: undefined,
    }
    expect(targetOf(join(dir, 'config.json'), raced)).toBe(join(dir, 'gone', 'config.json'))
  })

  it('keeps absolute symlink targets inside an image root', () => {
    mkdirSync(join(dir, 'srv', 'docker'), { recursive: true })
    mkdirSync(join(dir, 'root', '.docker'), { recursive: true })
    symlinkSync('/srv/docker/config.json', join(dir, 'root', '.docker', 'config.json'))
    expect(walkPath('/root/.docker/config.json', dir).target).toBe('/srv/docker/config.json')
    expect(walkPath('/root/.docker/../../../etc/x.json', dir).target).toBe('/etc/x.json')
  })
})

/** The directories from / down to `path`'s parent, as lookups name them. */
function dirsOf(path: string): string[] {
  const parts = path.split('/').filter(Boolean)
  return parts.slice(0, -1).map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)
}
