// --probe: ask a registry whether it accepts a credential, the way Docker would log in: GET /v2/,
// follow a Bearer challenge to its token realm with the Basic credential (or send Basic directly).
// Nothing else is contacted. The credential goes only into the Authorization header.

export type ProbeOutcome = 'accepted' | 'refused' | 'open' | 'unreachable'

export interface ProbeResult {
  readonly outcome: ProbeOutcome
  /** The URL last asked (the token realm, or /v2/). */
  readonly url: string
  readonly status: number | undefined
  /** The registry's own words (its error message), or the network error. Never the credential. */
  readonly detail: string
}

/** Docker treats loopback registries as insecure by default; only those may fall back to http. */
const isLoopback = (host: string): boolean => /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host)

/** Parses `Bearer realm="...",service="..."` into its scheme and parameters. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(' ')
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase()
  const params: Record<string, string> = {}
  for (const match of header.slice(space + 1).matchAll(/([A-Za-z_]+)="([^"]*)"/g)) params[match[1]!.toLowerCase()] = match[2]!
  return { scheme, params }
}

async function errorText(response: Response): Promise<string> {
  const body = (await response.text().catch(() => '')).trim()
  try {
    const parsed = JSON.parse(body) as { errors?: Array<{ message?: string; detail?: unknown }>; error?: string; details?: string }
    const first = parsed.errors?.[0]
    const text = first?.message ?? parsed.details ?? parsed.error
    if (typeof text === 'string' && text !== '') return text
  } catch {
    // not JSON
  }
  return body.split('\n')[0]?.slice(0, 200) || `HTTP ${response.status}`
}

const networkError = (error: unknown): string => {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error))
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
    if (response.status !== 401) return { outcome: 'unreachable', url: base, status: response.status, detail: `/v2/ answered HTTP ${response.status}: ${await errorText(response)}` }
    const { scheme: authScheme, params } = parseChallenge(response.headers.get('www-authenticate') ?? '')
    await response.body?.cancel()
    let url = base
    if (authScheme === 'bearer' && params['realm'] !== undefined) {
      const realm = new URL(params['realm'])
      if (params['service'] !== undefined) realm.searchParams.set('service', params['service'])
      if (params['scope'] !== undefined) realm.searchParams.set('scope', params['scope'])
      url = realm.toString()
    }
    try {
      const answer = await fetch(url, { headers: { authorization: basic }, signal: AbortSignal.timeout(timeoutMs) })
      if (answer.status === 200) {
        await answer.body?.cancel()
        return { outcome: 'accepted', url, status: 200, detail: authScheme === 'bearer' ? 'the token service issued a token' : 'the registry accepted Basic credentials' }
      }
      if (answer.status === 401 || answer.status === 403) return { outcome: 'refused', url, status: answer.status, detail: await errorText(answer) }
      return { outcome: 'unreachable', url, status: answer.status, detail: `HTTP ${answer.status}: ${await errorText(answer)}` }
    } catch (error) {
      return { outcome: 'unreachable', url, status: undefined, detail: networkError(error) }
    }
  }
  return { outcome: 'unreachable', url: `https://${host}/v2/`, status: undefined, detail: lastError }
}
