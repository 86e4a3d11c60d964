// Whether Docker can load an entry's auth (src/config/entries.ts).
import { describe, expect, it } from 'vitest'
import { dockerAuthProblem } from '../../src/config/entries.js'

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
