// --probe: ask a registry whether it accepts a credential, the way Docker would log in: GET /v2/,
// follow a Bearer challenge to its token realm with the Basic credential (or send Basic directly).
// Nothing else is contacted. The credential goes only into the Authorization header.

import { printable } from '../printable.js'

export type ProbeOutcome =
  | 'accepted'
  | 'refused'
  | 'open'
  | 'unreachable'
  /** The token realm is neither https nor on this machine: the credential was not sent. */
  | 'withheld'
  /** The realm in the registry's challenge is not a URL: nothing was sent. */
  | 'invalid-realm'
  /** The credentialed request was answered with a redirect, which is not followed. */
  | 'redirected'

export interface ProbeResult {
  readonly outcome: ProbeOutcome
  /** The URL last asked (the token realm, or /v2/). */
  readonly url: string
  readonly status: number | undefined
  /**
   * The registry's own words (its error message), or the network error, with control characters
   * escaped (see printable). Never the credential.
   */
  readonly detail: string
}

/** Only this much of any response body is read: how much it sends is up to the registry. */
export const maxBodyBytes = 64 * 1024

/** Docker treats loopback registries as insecure by default; only those may be asked over plain http. */
const isLoopbackHostname = (hostname: string): boolean => /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(hostname)
const isLoopback = (hostPort: string): boolean => isLoopbackHostname(new URL(`http://${hostPort}`).hostname)

/**
 * Whether the Basic credential may go to this token realm: over https, or plain http to this machine.
 * Anything else would hand it, readable, to whoever is on the path to a host the registry named.
 */
export const credentialMayGo = (realm: URL): boolean =>
  realm.protocol === 'https:' || (realm.protocol === 'http:' && isLoopbackHostname(realm.hostname))

/** Parses `Bearer realm="...",service="..."` into its scheme and parameters. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(' ')
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase()
  const params: Record<string, string> = {}
  for (const match of header.slice(space + 1).matchAll(/([A-Za-z_]+)="([^"]*)"/g)) params[match[1]!.toLowerCase()] = match[2]!
  return { scheme, params }
}

/** The start of a body, at most maxBodyBytes of it; what arrived before an error, if one ends it. */
async function readBody(response: Response): Promise<string> {
  const reader = response.body?.getReader()
  if (reader === undefined) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    while (size < maxBodyBytes) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.length
    }
  } catch {
    // a reset or the timeout: use what arrived
  } finally {
    await reader.cancel().catch(() => {})
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, maxBodyBytes))
}

async function errorText(response: Response): Promise<string> {
  const body = (await readBody(response)).trim()
  let text: string | undefined
  try {
    const parsed = JSON.parse(body) as { errors?: Array<{ message?: string; detail?: unknown }>; error?: string; details?: string }
    const first = parsed.errors?.[0]
    const found = first?.message ?? parsed.details ?? parsed.error
    if (typeof found === 'string' && found !== '') text = found
  } catch {
    // not JSON
  }
  return printable((text ?? body.split('\n')[0] ?? '').slice(0, 200)) || `HTTP ${response.status}`
}

const networkError = (error: unknown): string => {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  // A TLS error quotes the certificate, which the far end chose.
  return printable(cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error)))
}

export async function probeRegistry(host: string, username: string, password: string, timeoutMs = 10_000): Promise<ProbeResult> {
  const basic = `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`
  const schemes = isLoopback(host) ? ['https', 'http'] : ['https']
  let lastError = ''
  for (const scheme of schemes) {
    const base = `${scheme}://${host}/v2/`
    let response: Response
    try {
      response = await fetch(base, { signal: AbortSignal.timeout(timeoutMs) })
    } catch (error) {
      lastError = `${base}: ${networkError(error)}`
      continue
    }
    if (response.status === 200) {
      await response.body?.cancel()
      return { outcome: 'open', url: base, status: 200, detail: 'answers /v2/ without credentials' }
    }
    if (response.status !== 401)
      return {
        outcome: 'unreachable',
        url: base,
        status: response.status,
        detail: `/v2/ answered HTTP ${response.status}: ${await errorText(response)}`,
      }
    const { scheme: authScheme, params } = parseChallenge(response.headers.get('www-authenticate') ?? '')
    await response.body?.cancel()
    let url = base
    if (authScheme === 'bearer' && params['realm'] !== undefined) {
      const named = `"${printable(params['realm'])}"`
      let realm: URL
      try {
        realm = new URL(params['realm'])
      } catch {
        return { outcome: 'invalid-realm', url: base, status: 401, detail: named }
      }
      if (!credentialMayGo(realm))
        return { outcome: 'withheld', url: base, status: 401, detail: `the token realm ${named} is neither https nor on this machine` }
      if (params['service'] !== undefined) realm.searchParams.set('service', params['service'])
      if (params['scope'] !== undefined) realm.searchParams.set('scope', params['scope'])
      url = realm.toString()
    }
    try {
      // A redirect would take the credential to wherever the answer says; it is reported instead.
      const answer = await fetch(url, { headers: { authorization: basic }, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) })
      if (answer.status >= 300 && answer.status < 400) {
        await answer.body?.cancel()
        return {
          outcome: 'redirected',
          url,
          status: answer.status,
          detail: `HTTP ${answer.status} to "${printable(answer.headers.get('location') ?? '')}"`,
        }
      }
      if (answer.status === 200) {
        await answer.body?.cancel()
        return {
          outcome: 'accepted',
          url,
          status: 200,
          detail: authScheme === 'bearer' ? 'the token service issued a token' : 'the registry accepted Basic credentials',
        }
      }
      if (answer.status === 401 || answer.status === 403)
        return { outcome: 'refused', url, status: answer.status, detail: await errorText(answer) }
      return { outcome: 'unreachable', url, status: answer.status, detail: `HTTP ${answer.status}: ${await errorText(answer)}` }
    } catch (error) {
      return { outcome: 'unreachable', url, status: undefined, detail: networkError(error) }
    }
  }
  return { outcome: 'unreachable', url: `https://${host}/v2/`, status: undefined, detail: lastError }
}
