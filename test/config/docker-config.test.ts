import { describe, expect, it } from 'vitest'
import { foldKey, goObject, parseConfig, renderConfig } from '../../src/config/docker-config.js'
import { planMerge, planRemove } from '../../src/config/merge.js'
import { asWarning, diagnose } from '../../src/config/diagnostics.js'
import { dockerAuthProblem } from '../../src/config/entries.js'
import { CliError } from '../../src/errors.js'
import { type JsonObject, asObject, getMember, stringValue } from '../../src/config/json-document.js'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const doc = (text: string) => parseConfig(bytes(text), '/c/config.json')
const entry = (key: string, auth = 'bmV3OnBrY3M3') => ({ key, auth })
const b64 = (text: string): string => Buffer.from(text).toString('base64')
/** The user name in our entries ('new', as in 'bmV3OnBrY3M3') and an older entry of ours. */
const username = 'new'
const older = b64('new:old-pkcs7')
const merged = (text: string, entries = [entry('r.example.com')], user = username) => {
  const plan = planMerge(doc(text), entries, user)
  return { plan, text: renderConfig(plan.root), value: JSON.parse(renderConfig(plan.root)) as Record<string, any> }
}

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

describe('parseConfig', () => {
  it.each(['', '   \n\t ', '\n'])('treats %j as an empty document', (text) => {
    expect(doc(text).root.members).toEqual([])
  })

  it.each([
    ['\uFEFF{}', /byte-order mark/],
    ['{"auths":', /not valid JSON \(unexpected end of input at line 1, column 10\)/],
    ['[]', /JSON array at the top/],
    ['"x"', /JSON string at the top/],
    ['null', /JSON null at the top/],
    ['{"auths":[]}', /"auths" as a JSON array/],
    ['{"auths":"x"}', /"auths" as a JSON string/],
    ['{"auths":true}', /"auths" as a JSON true/],
    ['{"a":1}\u0000', /not valid JSON/],
  ])('refuses %j with exit 78', (text, message) => {
    try {
      doc(text)
      expect.unreachable('accepted an unusable file')
    } catch (error) {
      expect(error).toBeInstanceOf(CliError)
      expect((error as CliError).exitCode).toBe(78)
      expect((error as CliError).message).toMatch(message)
      expect((error as CliError).message).toContain('/c/config.json')
      expect((error as CliError).hint).toBeTruthy()
    }
  })

  it('refuses invalid UTF-8', () => {
    expect(() => parseConfig(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), '/c')).toThrow(/not valid UTF-8/)
  })

  it('accepts "auths": null', () => {
    const { value } = merged('{"auths":null}')
    expect(value.auths).toEqual({ 'r.example.com': { auth: 'bmV3OnBrY3M3' } })
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

describe('warnings', () => {
  const warningsFor = (text: string) => planMerge(doc(text), [entry('r.example.com')], username).warnings

  it('warns that credsStore hides our entry from Docker', () => {
    expect(warningsFor('{"credsStore":"desktop"}').join('\n')).toMatch(/credsStore.*desktop.*ignores/)
    expect(warningsFor('{"credsStore":""}')).toEqual([])
  })

  it('warns when credHelpers names our registry, not another', () => {
    expect(warningsFor('{"credHelpers":{"r.example.com":"ecr-login"}}').join('\n')).toMatch(/"credHelpers" names r\.example\.com/)
    expect(warningsFor('{"credHelpers":{"other":"ecr-login"}}')).toEqual([])
  })

  it.each([
    ['{"auths":{"x":{"auth":"not base64!"}}}', /not padded standard base64/],
    ['{"auths":{"x":{"auth":"dXNlcnBhc3M"}}}', /not padded standard base64/],
    ['{"auths":{"x":{"auth":"dXNlcnBhc3M="}}}', /no colon/],
    ['{"auths":{"x":{"auth":"OnBhc3M="}}}', /empty user name/],
    ['{"auths":{"x":{"auth":5}}}', /not a string/],
    ['{"auths":{"x":[]}}', /JSON array, not an object/],
    ['{"auths":{"x":1}}', /JSON number, not an object/],
  ])('warns that Docker would discard the file for %s', (text, reason) => {
    const warnings = warningsFor(text).join('\n')
    expect(warnings).toMatch(reason)
    expect(warnings).toMatch(/Docker will fail to load this file/)
  })

  it.each([
    ['{"auths":{"x":{"AUTH":"!!!"}}}', /auths\["x"\] has an "auth" that is not padded standard base64/],
    ['{"auths":{"x":{"auth":"!!!","auth":null}}}', /auths\["x"\] has an "auth" that is not padded standard base64/],
    ['{"auths":{"x":{"username":5}}}', /auths\["x"\] has a "username" that is not a string/],
    ['{"auths":{"x":{"IdentityToken":{}}}}', /has a "IdentityToken" that is not a string/],
    ['{"credsStore":5}', /"credsStore" is a JSON number: Docker will fail to load this file/],
    ['{"credHelpers":"ecr-login"}', /"credHelpers" is a JSON string: Docker will fail to load this file/],
    ['{"credHelpers":{"x":5}}', /credHelpers\["x"\] is a JSON number, not a helper name/],
  ])('reads %s as Go does: fields in any case, a null changing nothing, types checked', (text, reason) => {
    const warnings = warningsFor(text).join('\n')
    expect(warnings).toMatch(reason)
  })

  it('reports a helper name of the wrong type once, as a file Docker cannot load', () => {
    const warnings = warningsFor('{"credHelpers":{"r.example.com":5}}')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/credHelpers\["r\.example\.com"\] is a JSON number, not a helper name/)
  })

  it('reads nulls and empty names as Go and Docker do', () => {
    // The last non-null "auth" is the one Go keeps; a later spelling in another case wins too.
    expect(warningsFor('{"auths":{"x":{"auth":"!!!","Auth":"dTpw"}}}')).toEqual([])
    // null leaves a string as it was: credsStore is still desktop.
    expect(warningsFor('{"credsStore":"desktop","credsStore":null}').join('\n')).toMatch(/"credsStore": "desktop" is set/)
    // null empties a map: no helper is left for r.example.com.
    expect(warningsFor('{"credHelpers":{"r.example.com":"other"},"credHelpers":null}').join('\n')).not.toMatch(/names r\.example\.com/)
    // An empty or null helper name is none: Docker falls back to credsStore or the file.
    const empty = warningsFor('{"credsStore":"desktop","credHelpers":{"r.example.com":""}}').join('\n')
    expect(empty).toMatch(/"credsStore": "desktop" is set/)
    expect(empty).not.toMatch(/names r\.example\.com/)
  })

  it('does not warn about valid or empty auth values', () => {
    expect(warningsFor('{"auths":{"x":{"auth":""},"y":{"auth":"dTpw"},"z":{"auth":"dTpw\\nZA=="},"w":{},"n":null}}')).toEqual([])
  })

  it('warns with exactly the findings check reports as verdicts (one diagnostics module)', () => {
    const text = '{"credsStore":"desktop","auths":{"https://r.example.com":{"auth":"YWxpY2U6cHc="},"x":{"auth":"bad"}}}'
    const plan = planMerge(doc(text), [entry('r.example.com')], username)
    const findings = diagnose(plan.root, ['r.example.com'], username, 'run this tool again')
    expect(findings.map((f) => f.verdict)).toEqual(['fail', 'warn', 'fail'])
    expect(plan.warnings).toEqual(findings.map(asWarning))
  })

  it('quotes a key in a fix the user may paste into a shell', () => {
    const key = "https://r.example.com/'; touch /tmp/pwned; '"
    const text = JSON.stringify({ auths: { [key]: { auth: Buffer.from('alice:pw').toString('base64') } } })
    const finding = diagnose(doc(text).root, ['r.example.com'], username, 'rerun').find((f) => f.message.includes('another spelling'))!
    expect(finding.fix).toContain(`docker logout 'https://r.example.com/'\\''; touch /tmp/pwned; '\\'''`)
  })

  it('judges a key that appears twice by its last occurrence, as readers do', () => {
    const ours = Buffer.from(`${username}:old`).toString('base64')
    const theirs = Buffer.from('alice:pw').toString('base64')
    const text = `{"auths":{"https://r.example.com":{"auth":"${ours}"},"https://r.example.com":{"auth":"${theirs}"}}}`
    const findings = diagnose(doc(text).root, ['r.example.com'], username, 'rerun').map((f) => f.message)
    expect(findings.some((m) => m.includes('another spelling of r.example.com with a login this tool did not write (user "alice")'))).toBe(
      true,
    )
    expect(findings.some((m) => m.startsWith('older entries of this tool'))).toBe(false)
  })

  it('never takes an entry with an identity token for its own, whatever its user name', () => {
    const text = JSON.stringify({
      auths: { 'https://r.example.com/v1/': { auth: Buffer.from(`${username}:x`).toString('base64'), identitytoken: 'tok' } },
    })
    const plan = planMerge(doc(text), [entry('r.example.com')], username)
    expect(plan.changes.removed).toEqual([])
    expect(Object.keys(JSON.parse(renderConfig(plan.root)).auths)).toEqual(['https://r.example.com/v1/', 'r.example.com'])
  })

  it('warns about duplicate keys', () => {
    expect(diagnose({ kind: 'object', members: [] }, [], 'u', 'rerun')).toEqual([])
    expect(warningsFor('{"a":1,"a":2,"auths":{"x":{},"x":{}}}').join('\n')).toMatch(/"a" appears more than once[\s\S]*"x" more than once/)
  })
})

describe('dockerAuthProblem', () => {
  it.each([
    ['', undefined],
    ['dTpw', undefined],
    ['dTpw\r\n', undefined],
    ['dTp', 'is not padded standard base64'],
    ['dT-w', 'is not padded standard base64'],
    ['dXNlcnBhc3M=', 'has no colon between user and password'],
    ['OnBhc3M=', 'has an empty user name'],
    ['dTpw\nZA==', undefined],
  ])('%j -> %s', (auth, problem) => {
    expect(dockerAuthProblem(auth)).toBe(problem)
  })
})

describe('the keys Go reads in any case', () => {
  /** The entry Docker, skopeo and kubelet read for a key: Go merges every member that folds to "auths", last one winning. */
  const goReads = (root: JsonObject, key: string) => stringValue(getMember(asObject(getMember(goObject(root, 'auths'), key))!, 'auth'))
  const mine = b64('new:pkcs7')

  it.each([
    ['{"Auths":{}}', /the key "Auths" is read as "auths" by Docker and skopeo .*; fix: rename it to "auths"/, 'Auths'],
    ['{"auth\u017f":{}}', /the key "auth\u017f" is read as "auths"/, 'auth\u017f'],
    [
      '{"auths":{},"AUTHS":{}}',
      /the keys "auths", "AUTHS" are all read as "auths" .*; Docker merges them, later entries winning; fix: merge them into one "auths"/,
      'AUTHS',
    ],
    [
      '{"auths":{"a.example.com":{}},"psFormat":"x","auths":{"b.example.com":{}}}',
      /the key "auths" appears more than once at the top level; Docker merges them/,
      'auths',
    ],
    ['{"Auths":{"a.example.com":{}},"auths":null}', /the keys "Auths", "auths"/, 'auths'],
  ])('loads %s, as Docker does, and writes where Go reads last', (text, warning, into) => {
    const { plan, value } = merged(text, [entry('r.example.com', mine)])
    expect(plan.changes.added).toEqual(['r.example.com'])
    expect(plan.warnings.join('\n')).toMatch(warning)
    expect(goReads(plan.root, 'r.example.com')).toBe(mine)
    expect(plan.root.members.findLast((m) => foldKey(m.key) === 'auths')!.key).toBe(into)
    expect(value[into]['r.example.com']).toEqual({ auth: mine })
    // Nothing else moves: the other spellings keep their entries.
    if (text.includes('a.example.com')) expect(renderConfig(plan.root)).toContain('"a.example.com"')
  })

  it('replaces someone’s login that Go reads under another spelling, saying so', () => {
    const alice = b64('alice:pw')
    const { plan } = merged(`{"auths":{},"AUTHS":{"r.example.com":{"auth":"${alice}"}}}`, [entry('r.example.com', mine)])
    expect(plan.changes.updated).toEqual(['r.example.com'])
    expect(goReads(plan.root, 'r.example.com')).toBe(mine)
    expect(plan.warnings.join('\n')).toMatch(
      /replaced auths\["r.example.com"\], which held a login this tool did not write \(user "alice"\)/,
    )
  })

  it('removes this tool’s older entries from every object Go merges, and only those', () => {
    const alice = b64('alice:pw')
    const text = `{"Auths":{"https://r.example.com/v1/":{"auth":"${older}"},"http://r.example.com":{"auth":"${alice}"}},"auths":{}}`
    const { plan } = merged(text, [entry('r.example.com', mine)])
    expect(plan.changes.removed).toEqual(['https://r.example.com/v1/'])
    expect(goObject(plan.root, 'auths').members.map((m) => m.key)).toEqual(['http://r.example.com', 'r.example.com'])
    const removal = planRemove(doc(renderConfig(plan.root)), ['r.example.com'], username)
    expect(removal.changes.removed).toEqual(['r.example.com'])
    expect(removal.warnings.join('\n')).toMatch(/auths\["http:\/\/r.example.com"\] was not written by this tool/)
  })

  it('reads a credHelpers or credsStore in any case and repeated, as Go does', () => {
    const helpers = merged('{"credHelpers":{"r.example.com":"ecr-login"},"credHelpers":{"other.example.com":"x"}}').plan.warnings.join('\n')
    expect(helpers).toMatch(/"credHelpers" names r\.example\.com \(docker-credential-ecr-login\)/)
    expect(helpers).toMatch(
      /"credHelpers" appears more than once at the top level; Docker merges them, later entries winning; fix: merge them into one/,
    )
    expect(merged('{"CREDHELPERS":{"r.example.com":"x"}}').plan.warnings.join('\n')).toMatch(
      /"credHelpers" names r\.example\.com \(docker-credential-x\)/,
    )
    expect(merged('{"CredsStore":"desktop"}').plan.warnings.join('\n')).toMatch(
      /"credsStore": "desktop" is set[\s\S]*the key "CredsStore" is read as "credsStore"/,
    )
  })

  it('still refuses (78) an auths, in any spelling, that Docker cannot load', () => {
    expect(() => doc('{"auths":{},"Auths":"x"}')).toThrow(/has "Auths" as a JSON string, not an object/)
  })

  it('accepts other keys in any case, and repeated keys that are not auths', () => {
    expect(() => doc('{"authsx":{},"AUTH":1,"psFormat":"a","PSFORMAT":"b","credHelpers":{},"credHelpers":{}}')).not.toThrow()
    // Go folds only simple cases: ß is not "ss", a ligature is not two letters.
    expect(merged('{"cred\u00dftore":"x","creds\ufb06ore":"y","cred_helpers":{},"auths_":{}}').plan.warnings).toEqual([])
  })
})
