// A real file system that runs a test's step at a point of an atomic write. The seam is the
// FileSystem interface the write goes through, so the product code carries no hook for tests.
import { constants } from 'node:fs'
import * as fsp from 'node:fs/promises'
import type { FileHandle, FileSystem } from '../../src/fs/config-file.js'

export interface TempSteps {
  /** After the temp file is created, before anything is written to it. */
  readonly created?: (temp: string) => void | Promise<void>
  /** After the content is written, before its mode, owner and sync. */
  readonly written?: (temp: string) => void | Promise<void>
  /** After the temp file is closed: just before the re-check that precedes the rename. */
  readonly closed?: (temp: string) => void | Promise<void>
}

/** `base` with `steps` run around each file it creates (O_CREAT: only the write's temp files). */
export function withTempSteps(steps: TempSteps, base: FileSystem = fsp): FileSystem {
  return {
    ...base,
    open: async (path: string, flags: number, mode?: number): Promise<FileHandle> => {
      const handle = await base.open(path, flags, mode)
      if ((flags & constants.O_CREAT) === 0) return handle
      await steps.created?.(path)
      return new Proxy(handle, {
        get(target, prop) {
          const value: unknown = Reflect.get(target, prop)
          if (typeof value !== 'function') return value
          const call = (...args: unknown[]): unknown => (value as (...a: unknown[]) => unknown).apply(target, args)
          if (prop === 'writeFile') return async (...args: unknown[]) => (await call(...args), await steps.written?.(path))
          if (prop === 'close') return async () => (await call(), await steps.closed?.(path))
          return call
        },
      })
    },
  }
}
