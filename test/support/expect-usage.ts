// Asserts that a call fails as a usage error: a CliError with exit 64, a message and a fix.
import { expect } from 'vitest'
import { CliError } from '../../src/errors.js'

export function expectUsage(fn: () => unknown, message: RegExp): void {
  try {
    fn()
    expect.unreachable('no usage error')
  } catch (error) {
    expect(error).toBeInstanceOf(CliError)
    expect((error as CliError).exitCode).toBe(64)
    expect((error as CliError).message).toMatch(message)
    expect((error as CliError).hint).toBeTruthy()
  }
}
