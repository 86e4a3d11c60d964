import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { actorFor } from '../../src/fs/acting-user.js'
import { type Lookup, type PathWalk, targetOf, walkPath } from '../../src/fs/resolve-path.js'
import type { CliError } from '../../src/errors.js'

/** A lookup in `dir`; `entry` is the owner of the name found there, or 'missing'. */
const lookup = (dir: string, uid: number, mode = 0o755, entry: number | 'missing' = uid, gid = uid): Lookup => ({
  dir,
  uid,
  gid,
  mode,
  entryUid: entry === 'missing' ? undefined : entry,
})
const walk = (...lookups: Lookup[]): PathWalk => ({ target: '/x/config.json', lookups, links: [], blockedAt: undefined })

describe('actorFor', () => {
  it("is root's own path when every directory on it is root's", () => {
    expect(
      actorFor('/root/.docker/config.json', walk(lookup('/', 0), lookup('/root', 0, 0o700), lookup('/root/.docker', 0, 0o700))),
    ).toBeUndefined()
  })

  it('is the one user who owns a directory on the path (their groups come from passwd, never a directory)', () => {
    const w = walk(
      lookup('/', 0),
      lookup('/home', 0, 0o755, 1000),
      lookup('/home/u', 1000, 0o700, 1000, 1000),
      lookup('/home/u/.docker', 1000, 0o700, 'missing', 1001),
    )
    expect(actorFor('/home/u/.docker/config.json', w)).toEqual({ uid: 1000 })
  })

  it('refuses directories of two users on one path', () => {
    const w = walk(lookup('/', 0), lookup('/home/u', 1000), lookup('/home/u/shared', 1001))
    expect(() => actorFor('/home/u/shared/config.json', w)).toThrow(/belong to different users \(uid 1000 and 1001\)/)
    try {
      actorFor('/home/u/shared/config.json', w)
    } catch (error) {
      expect((error as CliError).exitCode).toBe(73)
    }
  })

  it('refuses a directory every user may write, unless it is sticky and the name in it is root’s', () => {
    expect(() => actorFor('/open/config.json', walk(lookup('/', 0), lookup('/open', 0, 0o777, 'missing')))).toThrow(
      /\/open is writable by every user/,
    )
    expect(() => actorFor('/tmp/x/config.json', walk(lookup('/', 0), lookup('/tmp', 0, 0o1777, 1000)))).toThrow(/writable by every user/)
    expect(() => actorFor('/tmp/x/config.json', walk(lookup('/', 0), lookup('/tmp', 0, 0o1777, 'missing')))).toThrow(
      /writable by every user/,
    )
    expect(
      actorFor('/tmp/x/config.json', walk(lookup('/', 0), lookup('/tmp', 0, 0o1777, 0), lookup('/tmp/x', 0, 0o700, 'missing'))),
    ).toBeUndefined()
  })
})

describe('actorFor: known answers for each refusal', () => {
  const withLinks = (links: Array<[string, number]>, ...lookups: Lookup[]): PathWalk => ({
    target: '/x/config.json',
    lookups,
    links: links.map(([path, uid]) => ({ path, uid })),
    blockedAt: undefined,
  })
  const refusal = (path: string, w: PathWalk): string => {
    try {
      actorFor(path, w)
    } catch (error) {
      expect((error as CliError).exitCode).toBe(73)
      return (error as CliError).message
    }
    throw new Error('not refused')
  }

  it("follows a link owned by root, or by the user whose rights the run takes; refuses anyone else's", () => {
    const rootPath = [lookup('/', 0), lookup('/etc', 0), lookup('/etc/docker', 0)] as const
    expect(actorFor('/etc/docker/config.json', withLinks([['/etc/docker/config.json', 0]], ...rootPath))).toBeUndefined()
    expect(refusal('/etc/docker/config.json', withLinks([['/etc/docker/config.json', 1000]], ...rootPath))).toMatch(
      /the symlink \/etc\/docker\/config.json on the way to it belongs to/,
    )
    const home = [lookup('/', 0), lookup('/home', 0, 0o755, 1000), lookup('/home/u', 1000, 0o700)] as const
    expect(actorFor('/home/u/config.json', withLinks([['/home/u/config.json', 1000]], ...home))).toEqual({ uid: 1000 })
    expect(refusal('/home/u/config.json', withLinks([['/home/u/config.json', 1001]], ...home))).toMatch(/belongs to/)
  })

  it('refuses a directory its group may write, whatever the group: with an ACL those bits are the mask', () => {
    expect(refusal('/d/config.json', walk(lookup('/', 0), lookup('/d', 0, 0o775, 'missing', 0)))).toMatch(
      /\/d is writable by its group \(gid 0\) or the users its ACL names/,
    )
    expect(refusal('/home/u/config.json', walk(lookup('/', 0), lookup('/home/u', 1000, 0o770, 'missing', 1000)))).toMatch(
      /writable by its group/,
    )
    // Sticky and group-writable, with a root-owned name in it: as /tmp.
    expect(
      actorFor('/t/x/config.json', walk(lookup('/', 0), lookup('/t', 0, 0o1770, 0), lookup('/t/x', 0, 0o700, 'missing'))),
    ).toBeUndefined()
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
