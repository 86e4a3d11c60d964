import { describe, expect, it } from 'vitest'
import { lineDiff } from '../src/cli/text-diff.js'

describe('lineDiff', () => {
  it('marks added, removed and unchanged lines', () => {
    expect(lineDiff('a\nb\nc\n', 'a\nx\nc\n')).toBe('  a\n- b\n+ x\n  c\n')
    expect(lineDiff('a\nc\n', 'a\nb\nc\n')).toBe('  a\n+ b\n  c\n')
    expect(lineDiff('a\nb\nc\n', 'a\nc\n')).toBe('  a\n- b\n  c\n')
  })
  it('shows a new file as all added, and an unchanged one as all context', () => {
    expect(lineDiff('', 'a\nb\n')).toBe('+ a\n+ b\n')
    expect(lineDiff('a\n', 'a\n')).toBe('  a\n')
  })
  it('does not let head and tail overlap on repeated lines', () => {
    expect(lineDiff('x\nx\n', 'x\nx\nx\n')).toBe('  x\n  x\n+ x\n')
  })
})
