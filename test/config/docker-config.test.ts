import { describe, expect, it } from 'vitest'
import { foldKey, goObject, parseConfig, renderConfig } from '../../src/config/docker-config.js'
import { planRemove } from '../../src/config/merge.js'
import { CliError } from '../../src/errors.js'
import { type JsonObject, asObject, getMember, stringValue } from '../../src/config/json-document.js'
import { b64, doc, entry, merged, older, username } from '../support/config-docs.js'

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
