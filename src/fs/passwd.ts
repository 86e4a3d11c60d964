// /etc/passwd as lines of fields (passwd(5)), for whose rights a file is handled with (this
// machine's) and root's home in an image (install --root). Pure.

import { isAbsolute } from 'node:path'

export interface PasswdLine {
  readonly name: string
  readonly uid: string | undefined
  readonly gid: string | undefined
  readonly home: string | undefined
}

export const passwdLines = (text: string): PasswdLine[] =>
  text.split('\n').map((line) => {
    const fields = line.split(':')
    return { name: fields[0] ?? '', uid: fields[2], gid: fields[3], home: fields[5] }
  })

/** The home of uid 0; /root when the text names none. */
export const rootHome = (text: string): string =>
  passwdLines(text).find((l) => l.uid === '0' && l.home !== undefined && isAbsolute(l.home))?.home ?? '/root'
