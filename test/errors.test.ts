// Values quoted in messages (src/errors.ts).
import { describe, expect, it } from 'vitest'
import { shown } from '../src/errors.js'

describe('shown', () => {
  it('quotes a value and cuts it to 100 characters, saying how long it was', () => {
    expect(shown('a b')).toBe('"a b"')
    expect(shown('x'.repeat(100))).toBe(JSON.stringify('x'.repeat(100)))
    expect(shown('é'.repeat(100_000))).toBe(`${JSON.stringify('é'.repeat(100))}…(100000 characters)`)
  })
})
