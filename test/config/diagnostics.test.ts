// What `write` warns about and `check` reports around our entries (src/config/diagnostics.ts).
import { describe, expect, it } from 'vitest'
import { renderConfig } from '../../src/config/docker-config.js'
import { planMerge } from '../../src/config/merge.js'
import { asWarning, diagnose } from '../../src/config/diagnostics.js'
import { doc, entry, username } from '../support/config-docs.js'

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
