import { describe, expect, it } from 'vitest'
import { actorFor } from '../../src/fs/acting-user.js'
import type { Lookup, PathWalk } from '../../src/fs/resolve-path.js'
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
