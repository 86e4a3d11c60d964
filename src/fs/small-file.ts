// A small file that a setting names (the settings file, a --certs file), read so that it can never
// hang or flood a run: opened without blocking (a FIFO must not wait for a writer), refused unless
// it is a regular file, and read no further than the cap.

import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'
import { errnoOf } from '../errors.js'

export type SmallFile = { readonly bytes: Buffer } | { readonly problem: 'not a regular file' | 'too large' } | { readonly errno: string }

export function readSmallFileSync(path: string, maxBytes: number): SmallFile {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (error) {
    return { errno: errnoOf(error) ?? String(error) }
  }
  try {
    if (!fstatSync(fd).isFile()) return { problem: 'not a regular file' }
    const buffer = Buffer.alloc(maxBytes + 1)
    let size = 0
    for (let n = 1; n > 0 && size < buffer.length; size += n) n = readSync(fd, buffer, size, buffer.length - size, null)
    return size > maxBytes ? { problem: 'too large' } : { bytes: buffer.subarray(0, size) }
  } catch (error) {
    return { errno: errnoOf(error) ?? String(error) }
  } finally {
    closeSync(fd)
  }
}
