import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { JsonSyntaxError, duplicateKeys, getMember, maxJsonDepth, parseJson, serializeJson } from '../src/json-doc.js'

const roundTrip = (text: string): string => serializeJson(parseJson(text))

describe('parseJson + serializeJson', () => {
  it('writes Docker’s tab-indented layout with a trailing newline', () => {
    expect(roundTrip('{"auths":{"a":{"auth":"eDp5"}},"list":[1,[],{}],"e":{}}')).toBe(
      '{\n\t"auths": {\n\t\t"a": {\n\t\t\t"auth": "eDp5"\n\t\t}\n\t},\n\t"list": [\n\t\t1,\n\t\t[],\n\t\t{}\n\t],\n\t"e": {}\n}\n',
    )
  })

  it('keeps member order, duplicate keys, __proto__, big integers and escapes exactly', () => {
    const text = '{"z":1,"a":2,"z":3,"__proto__":{"polluted":true},"big":123456789012345678901234567890,"f":-1.50e+10,"s":"\\u00e9\\/\\n<&>","k\\u0041":null}'
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
    const root = parseJson('{"k\\u0041":1,"x":1,"x":2}')
    if (root.kind !== 'object') throw new Error('not an object')
    expect(getMember(root, 'kA')).toEqual({ kind: 'number', raw: '1' })
    expect(getMember(root, 'x')).toEqual({ kind: 'number', raw: '2' })
    expect(duplicateKeys(root)).toEqual(['x'])
  })

  it.each([
    ['{', 'unexpected end of input', 1, 2],
    ['{"a":1,}', "expected a quoted key", 1, 8],
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
  })

  it('agrees with JSON.parse on the values of an ordinary document', () => {
    const value = { auths: { 'r.example.com': { auth: 'dTpw' } }, n: [1, 2.5, -3e2, true, false, null], s: 'tab\there "q" \\ ü 😀' }
    const text = JSON.stringify(value, null, 1)
    expect(JSON.parse(roundTrip(text))).toEqual(value)
  })
})

describe('lazy parsing (lazyFromDepth)', () => {
  /** The serialized result, or the error's message and place: what a lazy and an eager parse must share. */
  const outcome = (text: string, lazyFromDepth?: number): string => {
    try {
      const root = parseJson(text, lazyFromDepth === undefined ? {} : { lazyFromDepth })
      // Reading every member and item builds the lazy parts, which must equal the eager ones.
      const walk = (n: ReturnType<typeof parseJson>): string =>
        n.kind === 'object' ? `{${n.members.map((m) => `${m.rawKey}:${walk(m.value)}`).join(',')}}` : n.kind === 'array' ? `[${n.items.map(walk).join(',')}]` : n.raw
      return `${serializeJson(root)}|${walk(root)}`
    } catch (error) {
      if (!(error instanceof JsonSyntaxError)) throw error
      return `error: ${error.message}`
    }
  }

  // config.json's shape: objects of flat objects (the auths entries), which have a fast path of their own.
  const scalar = fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant(null))
  const configLike = fc
    .record({ auths: fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof({ weight: 5, arbitrary: fc.dictionary(fc.string({ maxLength: 4 }), scalar, { minKeys: 1, maxKeys: 3 }) }, { weight: 1, arbitrary: fc.json({ maxDepth: 2 }).map((j) => JSON.parse(j) as unknown) }), { maxKeys: 5 }), other: scalar }, { requiredKeys: ['auths'] })
    .map((v) => JSON.stringify(v))
  const layouts = fc.oneof(fc.json({ maxDepth: 5 }), configLike).chain((json) =>
    fc.constantFrom(json, JSON.stringify(JSON.parse(json), null, '\t'), JSON.stringify(JSON.parse(json), null, 2), `${JSON.stringify(JSON.parse(json), null, '\t')}\n`),
  )
  // One character inserted, replaced or deleted somewhere.
  const mutated = fc
    .tuple(layouts, fc.nat(), fc.boolean(), fc.constantFrom('', '{', '}', '[', ']', ',', ':', '"', '\\', ' ', '\n', '\t', '1', 'x', '\u0001'))
    .map(([text, at, replace, insert]) => {
      const i = text.length === 0 ? 0 : at % text.length
      return text.slice(0, i) + insert + text.slice(replace ? i + 1 : i)
    })

  it('gives the same tree, serialization and errors as an eager parse, in any layout and when broken', () => {
    fc.assert(
      fc.property(fc.oneof(layouts, mutated), fc.integer({ min: 0, max: 4 }), (text, depth) => {
        expect(outcome(text, depth)).toBe(outcome(text))
      }),
      { numRuns: 3000 },
    )
  })

  it('finds members of a lazy object as the built object does, by every key it has and one it lacks', () => {
    fc.assert(
      fc.property(layouts, fc.string({ maxLength: 4 }), (text, missing) => {
        const lazy = parseJson(text, { lazyFromDepth: 0 })
        const eager = parseJson(text)
        if (lazy.kind !== 'object' || eager.kind !== 'object') return
        for (const key of [...eager.members.map((m) => m.key), missing]) {
          const expected = getMember(eager, key)
          const actual = getMember(lazy, key)
          const describe = (n: ReturnType<typeof getMember>): string | undefined => (n === undefined ? undefined : `${n.kind} ${n.kind === 'string' ? JSON.stringify(n.value) : ''} ${serializeJson(n)}`)
          expect(describe(actual)).toBe(describe(expected))
        }
      }),
      { numRuns: 3000 },
    )
  })

  it('copies a part already in the layout and re-lays-out one that is not', () => {
    const tight = '{"auths":{"a":{"auth":"dTpw","n":[1,{"x":[]}]}}}'
    const laidOut = serializeJson(parseJson(tight))
    expect(serializeJson(parseJson(tight, { lazyFromDepth: 2 }))).toBe(laidOut)
    expect(serializeJson(parseJson(laidOut, { lazyFromDepth: 2 }))).toBe(laidOut)
    for (const variant of [laidOut.replace('"auth": ', '"auth":  '), laidOut.replace('"auth": ', '"auth" : '), laidOut.replace('1,', '1 ,'), laidOut.replace('\t\t}', '\t}')]) {
      expect(serializeJson(parseJson(variant, { lazyFromDepth: 2 }))).toBe(laidOut)
    }
  })

  it('leaves the fast path for the general one wherever an entry or its end is not laid out', () => {
    const laidOut = serializeJson(parseJson('{"auths":{"a":{"auth":"x"},"b":{"auth":"y"},"c":{"auth":"z"}}}'))
    const variants = [
      laidOut,
      laidOut.replace('},\n\t\t"b"', '} ,\n\t\t"b"'),
      laidOut.replace('}\n\t}', '} \n\t}'),
      laidOut.replace('}\n\t}', '}\n\t\t}'),
      laidOut.replace('}\n\t}', '}\n}'),
      laidOut.replace('}\n\t}', '}\n\t]'),
      laidOut.replace('"b": {', '"b": {}, "bb": {'),
      laidOut.replace('"y"', '"y",\n\t\t\t"n": {}'),
      laidOut.replace('},\n\t\t"b"', '}\n\t\t"b"'),
    ]
    for (const text of variants) for (const depth of [1, 2]) expect(outcome(text, depth)).toBe(outcome(text))
  })

  it('refuses the same nesting depth', () => {
    const deep = `{"a":{"b":${'['.repeat(maxJsonDepth)}${']'.repeat(maxJsonDepth)}}}`
    expect(outcome(deep, 2)).toBe(outcome(deep))
    expect(outcome(deep)).toMatch(/nesting deeper than/)
  })
})
