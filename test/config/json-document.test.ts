import { describe, expect, it } from 'vitest'
import {
  JsonSyntaxError,
  asObject,
  duplicateKeys,
  getMember,
  jsonString,
  kindOf,
  maxJsonDepth,
  parseJson,
  serializeJson,
  stringValue,
} from '../../src/config/json-document.js'

const roundTrip = (text: string): string => serializeJson(parseJson(text))

describe('parseJson + serializeJson', () => {
  it('writes Docker’s tab-indented layout with a trailing newline', () => {
    expect(roundTrip('{"auths":{"a":{"auth":"eDp5"}},"list":[1,[],{}],"e":{}}')).toBe(
      '{\n\t"auths": {\n\t\t"a": {\n\t\t\t"auth": "eDp5"\n\t\t}\n\t},\n\t"list": [\n\t\t1,\n\t\t[],\n\t\t{}\n\t],\n\t"e": {}\n}\n',
    )
  })

  it('keeps member order, duplicate keys, __proto__, big integers and escapes exactly', () => {
    const text =
      '{"z":1,"a":2,"z":3,"__proto__":{"polluted":true},"big":123456789012345678901234567890,"f":-1.50e+10,"s":"\\u00e9\\/\\n<&>","k\\u0041":null}'
    const out = roundTrip(text)
    expect(out).toContain('"__proto__": {')
    expect(out).toContain('"big": 123456789012345678901234567890')
    expect(out).toContain('"f": -1.50e+10')
    expect(out).toContain('"s": "\\u00e9\\/\\n<&>"')
    expect(out).toContain('"k\\u0041": null')
    expect(out.indexOf('"z": 1')).toBeLessThan(out.indexOf('"a": 2'))
    expect(out.indexOf('"a": 2')).toBeLessThan(out.indexOf('"z": 3'))
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
    // Serializing again is a fixed point.
    expect(roundTrip(out)).toBe(out)
  })

  it('decodes keys for lookup, and the last duplicate wins', () => {
    const root = asObject(parseJson('{"k\\u0041":1,"x":1,"x":2}'))
    if (root === undefined) throw new Error('not an object')
    expect(getMember(root, 'kA')).toBe('1')
    expect(getMember(root, 'x')).toBe('2')
    expect(duplicateKeys(root)).toEqual(['x'])
  })

  it('keeps each scalar as its source text, and reads strings through their escapes', () => {
    const root = asObject(
      parseJson('{"s":"a\\u0062\\n","n":-1.5e+300,"big":12345678901234567890123,"t":true,"f":false,"z":null,"o":{},"a":[]}'),
    )
    if (root === undefined) throw new Error('not an object')
    expect(root.members.map((m) => m.value)).toEqual([
      '"a\\u0062\\n"',
      '-1.5e+300',
      '12345678901234567890123',
      'true',
      'false',
      'null',
      { kind: 'object', members: [] },
      { kind: 'array', items: [] },
    ])
    expect(root.members.map((m) => kindOf(m.value))).toEqual(['string', 'number', 'number', 'true', 'false', 'null', 'object', 'array'])
    expect(stringValue(getMember(root, 's'))).toBe('ab\n')
    expect(root.members.slice(1).map((m) => stringValue(m.value))).toEqual(Array(7).fill(undefined))
    expect(stringValue(jsonString('quote " and \\'))).toBe('quote " and \\')
  })

  it.each([
    ['{', 'unexpected end of input', 1, 2],
    ['{"a":1,}', 'expected a quoted key', 1, 8],
    ['{"a":1}\n x', 'after the end of the document', 2, 2],
    ['{"a":"x\u0000"}', 'unescaped control character', 1, 8],
    ['{"a":01}', "expected ',' or '}'", 1, 7],
    ["{'a':1}", 'expected a quoted key', 1, 2],
    ['{"a":"\\x"}', 'invalid escape', 1, 7],
    ['', 'unexpected end of input', 1, 1],
    ['[1 2]', "expected ',' or ']'", 1, 4],
    ['{"a":tru}', 'unexpected character', 1, 6],
  ])('refuses %j with a located reason', (text, reason, line, column) => {
    try {
      parseJson(text)
      expect.unreachable('parsed invalid JSON')
    } catch (error) {
      expect(error).toBeInstanceOf(JsonSyntaxError)
      const e = error as JsonSyntaxError
      expect(e.message).toContain(reason)
      expect([e.line, e.column]).toEqual([line, column])
    }
  })

  it('refuses nesting beyond the limit instead of overflowing the stack', () => {
    const deep = '['.repeat(maxJsonDepth + 5) + ']'.repeat(maxJsonDepth + 5)
    expect(() => parseJson(deep)).toThrow(/nesting deeper than/)
    const ok = '['.repeat(maxJsonDepth) + ']'.repeat(maxJsonDepth)
    expect(() => parseJson(ok)).not.toThrow()
    // One level more than the limit is refused; a scalar in the deepest level is not a level.
    expect(() => parseJson(`[${ok}]`)).toThrow(/nesting deeper than/)
    expect(() => parseJson(`${'['.repeat(maxJsonDepth)}1${']'.repeat(maxJsonDepth)}`)).not.toThrow()
    expect(() => parseJson(`${'{"a":'.repeat(maxJsonDepth - 1)}{"b":1}${'}'.repeat(maxJsonDepth - 1)}`)).not.toThrow()
  })

  it.each([
    ['plain characters', 'a'.repeat(30_000_000)],
    ['escapes', '\\n'.repeat(15_000_000)],
    ['escapes between characters', 'ab\\u00e9'.repeat(3_000_000)],
  ])('reads a string of tens of megabytes of %s without running out of stack', (_, body) => {
    const root = asObject(parseJson(`{"pad":"${body}"}`))
    expect(getMember(root!, 'pad')).toHaveLength(body.length + 2)
  })

  it('agrees with JSON.parse on the values of an ordinary document', () => {
    const value = { auths: { 'r.example.com': { auth: 'dTpw' } }, n: [1, 2.5, -3e2, true, false, null], s: 'tab\there "q" \\ ü 😀' }
    const text = JSON.stringify(value, null, 1)
    expect(JSON.parse(roundTrip(text))).toEqual(value)
  })
})
