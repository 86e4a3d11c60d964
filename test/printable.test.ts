import { describe, expect, it } from 'vitest'
import { printable } from '../src/printable.js'

describe('printable', () => {
  it('escapes controls, separators, bidi and invisible characters, and keeps the rest', () => {
    const hostile = [
      '\u0000',
      '\n',
      '\t',
      '\u001b',
      '\u007f',
      '\u009b',
      '\u00ad',
      '\u061c',
      '\u200b',
      '\u200e',
      '\u2028',
      '\u202e',
      '\u2066',
      '\ufeff',
      '\ufffb',
      '\u{e0041}',
    ]
    expect(printable(hostile.join(''))).toBe(
      '\\u0000\\u000a\\u0009\\u001b\\u007f\\u009b\\u00ad\\u061c\\u200b\\u200e\\u2028\\u202e\\u2066\\ufeff\\ufffb\\u{e0041}',
    )
    expect(printable('registry.example.com: é 😀 \\ "q"')).toBe('registry.example.com: é 😀 \\ "q"')
    expect(printable('a\u2029b\u0080c')).toBe('a\\u2029b\\u0080c')
  })
})
