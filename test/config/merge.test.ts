// The merge and the removal of our auths entries (src/config/merge.ts), written where Go reads them.
import { describe, expect, it } from 'vitest'
import { goObject, renderConfig } from '../../src/config/docker-config.js'
import { planMerge, planRemove } from '../../src/config/merge.js'
import { asObject } from '../../src/config/json-document.js'
import { b64, doc, entry, merged, older, username } from '../support/config-docs.js'

describe('a null that empties earlier maps for Go', () => {
  it('stays, with our entry after it: the logins it hid stay hidden, ours is read', () => {
    const { plan } = merged('{"auths":{"other.example":{"auth":"dTpw"}},"AUTHS":null}')
    expect(
      plan.root.members.map((m) => [m.key, m.value === 'null' ? null : Object.keys(JSON.parse(renderConfig(asObject(m.value)!)))]),
    ).toEqual([
      ['auths', ['other.example']],
      ['AUTHS', null],
      ['auths', ['r.example.com']],
    ])
    expect(goObject(plan.root, 'auths').members.map((m) => m.key)).toEqual(['r.example.com'])
  })

  it('a lone null is simply replaced', () => {
    expect(merged('{"auths":null}').value).toEqual({ auths: { 'r.example.com': { auth: 'bmV3OnBrY3M3' } } })
  })
})

describe('planMerge', () => {
  it('adds our entry to an empty file as the only change', () => {
    const { plan, text } = merged('')
    expect(text).toBe('{\n\t"auths": {\n\t\t"r.example.com": {\n\t\t\t"auth": "bmV3OnBrY3M3"\n\t\t}\n\t}\n}\n')
    expect(plan.changes).toEqual({ added: ['r.example.com'], updated: [], removed: [] })
  })

  it('keeps every other key, entry and value exactly, in order', () => {
    const before =
      '{"credHelpers":{"ecr.example.com":"ecr-login"},"auths":{"a.example.com":{"auth":"YTpi","email":"x@y","x-extra":[1,2]},"r.example.com":{"auth":"b2xkOm9sZA==","username":"u"},"z.example.com":{}},"__proto__":{"x":1},"big":9007199254740993,"proxies":{"default":{"httpProxy":"http://p:3128"}},"x-unknown":{"nested":{"deep":["\\u00e9"]}}}'
    const { text } = merged(before)
    const expected = JSON.parse(before.replace('"__proto__"', '"__proto_placeholder__"').replace('9007199254740993', '"BIG"'))
    expected.auths['r.example.com'] = { auth: 'bmV3OnBrY3M3' }
    const after = JSON.parse(text.replace('"__proto__"', '"__proto_placeholder__"').replace('9007199254740993', '"BIG"'))
    expect(after).toEqual(expected)
    expect(Object.keys(after)).toEqual(Object.keys(expected))
    expect(Object.keys(after.auths)).toEqual(['a.example.com', 'r.example.com', 'z.example.com'])
    expect(text).toContain('"big": 9007199254740993')
    expect(text).toContain('"\\u00e9"')
  })

  it('is idempotent: merging the result again changes nothing', () => {
    const first = merged('{"auths":{"https://r.example.com/v1/":{"auth":"eDp5"}},"k":1}')
    const second = planMerge({ root: first.plan.root }, [entry('r.example.com')], username)
    expect(second.changes).toEqual({ added: [], updated: [], removed: [] })
    expect(second.root).toBe(first.plan.root)
    expect(renderConfig(second.root)).toBe(first.text)
  })

  it('reports an entry that is already current as no change', () => {
    const { plan } = merged('{"auths":{"r.example.com":{"auth":"bmV3OnBrY3M3"}}}')
    expect(plan.changes).toEqual({ added: [], updated: [], removed: [] })
  })

  it('replaces an entry with extra fields, in place', () => {
    const { plan, value } = merged('{"auths":{"a":{},"r.example.com":{"auth":"bmV3OnBrY3M3","identitytoken":"t"},"b":{}}}')
    expect(plan.changes.updated).toEqual(['r.example.com'])
    expect(Object.keys(value.auths)).toEqual(['a', 'r.example.com', 'b'])
    expect(value.auths['r.example.com']).toEqual({ auth: 'bmV3OnBrY3M3' })
  })

  it('removes competing spellings that hold its own older entry, and leaves repository-scoped keys and other ports alone', () => {
    const own = JSON.stringify({ auth: older })
    const { plan, value } = merged(
      `{"auths":{"https://r.example.com/v1/":${own},"http://r.example.com":${own},"r.example.com/":${own},"R.EXAMPLE.COM":${own},"r.example.com/team/app":${own},"r.example.com:443":${own}}}`,
    )
    expect(plan.changes.removed).toEqual(['https://r.example.com/v1/', 'http://r.example.com', 'r.example.com/', 'R.EXAMPLE.COM'])
    expect(Object.keys(value.auths)).toEqual(['r.example.com/team/app', 'r.example.com:443', 'r.example.com'])
    expect(plan.warnings).toEqual([])
  })

  it('keeps every competing spelling that holds someone else’s login, with one warning line per key', () => {
    const { plan, value } = merged(
      JSON.stringify({
        auths: {
          'https://r.example.com/v1/': { auth: b64('alice:pw') },
          'http://r.example.com': { identitytoken: 'tok' },
          'r.example.com/': {},
          'HTTPS://R.example.com': { auth: older, email: 'x' },
        },
      }),
    )
    expect(plan.changes.removed).toEqual(['HTTPS://R.example.com'])
    expect(Object.keys(value.auths)).toEqual(['https://r.example.com/v1/', 'http://r.example.com', 'r.example.com/', 'r.example.com'])
    expect(value.auths['https://r.example.com/v1/']).toEqual({ auth: b64('alice:pw') })
    const kept = plan.warnings.filter((w) => /another spelling/.test(w))
    expect(kept).toHaveLength(3)
    expect(kept[0]).toMatch(/^auths\["https:\/\/r\.example\.com\/v1\/"\] is another spelling of r\.example\.com .*\(user "alice"\)/)
    expect(kept[1]).toMatch(/^auths\["http:\/\/r\.example\.com"\] .*\(an identity token\)/)
    expect(kept[2]).toMatch(/^auths\["r\.example\.com\/"\] .*\(no usable auth\)/)
    for (const w of kept) {
      expect(w).not.toContain('\n')
      expect(w).toMatch(/kept/)
      expect(w).toMatch(/skopeo/)
      expect(w).toMatch(/docker logout /)
    }
    expect(kept[0]).toContain('docker logout https://r.example.com/v1/')
  })

  it('knows its own entries by the configured user name', () => {
    const text = JSON.stringify({ auths: { 'https://r.example.com': { auth: b64('svc:old') } } })
    expect(merged(text, [entry('r.example.com', b64('svc:new'))], 'svc').plan.changes.removed).toEqual(['https://r.example.com'])
    expect(merged(text, [entry('r.example.com')], 'new').plan.changes.removed).toEqual([])
  })

  it('says so when it replaces another tool’s login under its own key, and not for its own older entry', () => {
    for (const [value, who] of [
      [{ auth: b64('alice:pw') }, 'user "alice"'],
      [{ identitytoken: 'tok' }, 'an identity token'],
      [{}, 'no usable auth'],
    ] as const) {
      const { plan, value: after } = merged(JSON.stringify({ auths: { 'r.example.com': value } }))
      expect(plan.changes.updated).toEqual(['r.example.com'])
      expect(after.auths['r.example.com']).toEqual({ auth: 'bmV3OnBrY3M3' })
      expect(plan.warnings).toHaveLength(1)
      expect(plan.warnings[0]).toMatch(/^replaced auths\["r\.example\.com"\], which held a login this tool did not write \(/)
      expect(plan.warnings[0]).toContain(who)
    }
    expect(merged(JSON.stringify({ auths: { 'r.example.com': { auth: older } } })).plan.warnings).toEqual([])
    // A duplicate of our key that holds another login is named too.
    expect(
      merged(
        JSON.stringify({ auths: { 'r.example.com': { auth: older } } }).replace('}}}', `},"r.example.com":{"auth":"${b64('bob:pw')}"}}}`),
      ).plan.warnings,
    ).toEqual([expect.stringMatching(/user "bob"/)])
  })

  it('collapses duplicate occurrences of our own key into one', () => {
    const { text } = merged('{"auths":{"r.example.com":{"auth":"eDp5"},"o":{},"r.example.com":{"auth":"eTp6"}}}')
    expect(text.match(/"r\.example\.com"/g)).toHaveLength(1)
    expect(text.indexOf('"r.example.com"')).toBeLessThan(text.indexOf('"o"'))
  })

  it('merges several registries with one auth', () => {
    const { value } = merged('{}', [entry('a.example.com'), entry('b.example.com:5000')])
    expect(Object.keys(value.auths)).toEqual(['a.example.com', 'b.example.com:5000'])
  })
})

describe('planRemove', () => {
  it('removes only its own entries, under the key or another spelling, as planMerge does', () => {
    const text = JSON.stringify({
      auths: {
        'r.example.com': { auth: older },
        'https://r.example.com/v1/': { auth: b64('alice:pw') },
        'http://r.example.com': { auth: older },
        'r.example.com/': { identitytoken: 'tok' },
        'other.example.com': { auth: older },
      },
    })
    const plan = planRemove(doc(text), ['r.example.com'], username)
    expect(plan.changes.removed).toEqual(['r.example.com', 'http://r.example.com'])
    expect(Object.keys(JSON.parse(renderConfig(plan.root)).auths)).toEqual([
      'https://r.example.com/v1/',
      'r.example.com/',
      'other.example.com',
    ])
    expect(plan.warnings).toEqual([
      'auths["https://r.example.com/v1/"] was not written by this tool (user "alice"); left alone',
      'auths["r.example.com/"] was not written by this tool (an identity token); left alone',
    ])
    // What remove keeps, a later write keeps too.
    expect(merged(renderConfig(plan.root)).plan.changes.removed).toEqual([])
  })
})
