// The credential as a registry receives it: a user name and a password that is the PKCS7 in base64,
// in lines as IMDS serves it or on one line. Bounded before anything is decoded.

import { UnusableIdentityError, decodeSignature } from '../imds/identity.js'

/** A PKCS7 from EC2 is about 1.5 KB of base64; anything past this is refused unread. */
export const maxPasswordBytes = 16 * 1024

export interface Credential {
  readonly username: string
  readonly password: string
}

/** The PKCS7's DER, or a reason. Never includes the password in the reason. */
export function decodePassword(password: string): Buffer | string {
  if (password.length > maxPasswordBytes) return `the password is ${password.length} characters, over the ${maxPasswordBytes} bound`
  try {
    return decodeSignature(password.replace(/^\s+|\s+$/g, ''))
  } catch (error) {
    if (error instanceof UnusableIdentityError) return error.message
    throw error
  }
}

/** docker_auth's ext_auth input: `<user> <password>` (one space, no newline). Undefined without a space. */
export function parseExtAuthInput(input: string): Credential | undefined {
  const space = input.indexOf(' ')
  if (space < 0) return undefined
  return { username: input.slice(0, space), password: input.slice(space + 1) }
}

/** An `Authorization: Basic` header's credential, or undefined when there is none or it is malformed. */
export function parseBasicAuthorization(header: string | undefined): Credential | undefined {
  if (header === undefined) return undefined
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header)
  if (match === null || match[1]!.length % 4 !== 0) return undefined
  const text = Buffer.from(match[1]!, 'base64').toString('utf8')
  const colon = text.indexOf(':')
  if (colon < 0) return undefined
  return { username: text.slice(0, colon), password: text.slice(colon + 1) }
}
