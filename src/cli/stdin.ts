// Reading a request from stdin, bounded in size and in time, for every mode that reads one (the
// kubelet provider, the credential helper): a caller that never closes stdin cannot hang a pull.

import { usageError } from '../errors.js'

/**
 * Reads `stream` to its end. Past `maxBytes` it stops reading and says so (`tooLarge`); a writer
 * that has not closed it within `timeoutMs` is a usage error whose fix is `hint`.
 */
export async function readBounded(
  stream: NodeJS.ReadableStream,
  maxBytes: number,
  timeoutMs: number,
  hint: string,
): Promise<{ bytes: Buffer; tooLarge: boolean }> {
  const chunks: Buffer[] = []
  let size = 0
  const read = (async () => {
    for await (const chunk of stream) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
      chunks.push(buffer)
      size += buffer.length
      if (size > maxBytes) return true
    }
    return false
  })()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(usageError(`stdin was not closed within ${timeoutMs / 1000} s`, hint)), timeoutMs)
  })
  read.catch(() => {}) // its failure is reported through the race; one that comes after the deadline is moot
  try {
    const tooLarge = await Promise.race([read, timeout])
    return { bytes: Buffer.concat(chunks).subarray(0, maxBytes), tooLarge }
  } finally {
    clearTimeout(timer)
  }
}
