// Registry names as config.json keys. Our key is always the bare lower-cased host[:port]: the one
// form that Docker, containers/image (skopeo, podman), kubelet and regclient all look up.

import { isIPv6 } from 'node:net'
import { domainToASCII } from 'node:url'
import { shown, usageError } from '../errors.js'

export interface NormalizedRegistry {
  /** The auths key, e.g. `registry.example.com:5000`. */
  readonly key: string
  /** What the operator typed, when it had to be reduced (scheme, path, upper case). */
  readonly reducedFrom?: string
}

const hostname = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/

/** Whether `hostPort` is a valid lower-case `host[:port]` (DNS name, IPv4, or bracketed IPv6). */
export function isHostPort(hostPort: string): boolean {
  let host = hostPort
  let port: string | undefined
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']')
    if (close < 0) return false
    host = hostPort.slice(0, close + 1)
    const rest = hostPort.slice(close + 1)
    if (rest !== '') {
      if (!rest.startsWith(':')) return false
      port = rest.slice(1)
    }
    if (!isIPv6(host.slice(1, -1))) return false
  } else {
    const colon = hostPort.lastIndexOf(':')
    if (colon >= 0) {
      host = hostPort.slice(0, colon)
      port = hostPort.slice(colon + 1)
    }
    if (host.length > 253 || !hostname.test(host)) return false
  }
  if (port !== undefined) {
    if (!/^[0-9]{1,5}$/.test(port)) return false
    const n = Number(port)
    if (n < 1 || n > 65535) return false
  }
  return true
}

/** The paths Docker itself puts after a registry host (`https://index.docker.io/v1/`); any other is a repository. */
const registryPaths = new Set(['', '/', '/v1', '/v1/', '/v2', '/v2/'])

/**
 * Reduces `https://Registry.example.com:5000/v1/` to `registry.example.com:5000`.
 * Throws a usage error for anything that is not a host[:port] once scheme and Docker's own paths are gone.
 */
export function normalizeRegistry(input: string): NormalizedRegistry {
  const fix = 'give a registry as host[:port], e.g. --registry pierone.example.com'
  const quoted = shown(input)
  if (input.trim() === '') throw usageError('empty registry name', fix)
  if (/[\s\u0000-\u001f\u007f]/.test(input)) throw usageError(`registry ${quoted} contains white space or control characters`, fix)
  let rest = input
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(rest)
  if (scheme !== null) {
    const name = scheme[1]!.toLowerCase()
    if (name !== 'https' && name !== 'http')
      throw usageError(`registry ${quoted} has the scheme ${shown(name)}://; only http(s) URLs or a bare host[:port] are accepted`, fix)
    rest = rest.slice(scheme[0].length)
  }
  const slash = rest.indexOf('/')
  if (slash >= 0) {
    const path = rest.slice(slash)
    rest = rest.slice(0, slash)
    // Every reader looks a credential up by host: one under host/team/app would be read for the
    // whole host by Docker and not at all by others, so a path is refused rather than cut off.
    if (!registryPaths.has(path.toLowerCase())) {
      throw usageError(
        `registry ${quoted} names a repository path (${shown(path)}); a credential is per registry host`,
        `give the host alone, e.g. --registry ${rest.length <= 100 ? rest.toLowerCase() : '<host[:port]>'}`,
      )
    }
  }
  if (rest.includes('@'))
    throw usageError(`registry ${quoted} contains credentials (user@host); credentials never go on the command line`, fix)
  if (rest.includes('*'))
    throw usageError(`registry ${quoted} contains a wildcard; Docker matches keys exactly, so name each registry`, fix)
  const key = rest.toLowerCase()
  if (/[^\u0000-\u007f]/.test(key)) {
    // Docker, containers/image and kubelet compare keys as ASCII text: only the punycode form matches.
    const port = /:[0-9]+$/.exec(key)?.[0] ?? ''
    const ascii = domainToASCII(key.slice(0, key.length - port.length))
    throw usageError(`registry ${quoted} is not ASCII`, ascii === '' ? fix : `use its punycode form: --registry ${ascii}${port}`)
  }
  if (!isHostPort(key)) throw usageError(`registry ${quoted} is not a valid host[:port]`, fix)
  if (isDockerHub(key)) {
    // Docker reads Hub's credential only under "https://index.docker.io/v1/", so an entry here would
    // be dead weight at best, and under index.docker.io it would replace a person's Hub login.
    throw usageError(
      `registry ${quoted} is Docker Hub, which does not verify EC2 instance identities`,
      'name your own registry, e.g. --registry pierone.example.com; log in to Docker Hub with docker login',
    )
  }
  return key === input ? { key } : { key, reducedFrom: input }
}

/** Docker Hub under any of its names (docker.io, index.docker.io, registry-1.docker.io, hub.docker.com, ...), any port. */
function isDockerHub(hostPort: string): boolean {
  const host = hostPort.startsWith('[') ? hostPort : hostPort.replace(/:[0-9]+$/, '')
  return ['docker.io', 'docker.com'].some((domain) => host === domain || host.endsWith(`.${domain}`))
}

/** Parses repeatable, comma-separated registry arguments into unique keys, in the order given. */
export function parseRegistryList(values: readonly string[]): NormalizedRegistry[] {
  const result: NormalizedRegistry[] = []
  const seen = new Set<string>()
  for (const value of values) {
    for (const part of value.split(',')) {
      // Tolerate "a, b," as written in environment files; a lone empty value is still an error.
      if (part.trim() === '' && value.includes(',')) continue
      const normalized = normalizeRegistry(part.trim())
      if (seen.has(normalized.key)) continue
      seen.add(normalized.key)
      result.push(normalized)
    }
  }
  return result
}

/**
 * Whether an existing top-level `auths` key names the same registry as `key` in another spelling
 * (`https://host/v1/`, `http://host`, `host/`, `HOST`): Docker and skopeo fall back to these when the
 * bare key is missing, other readers may pick either.
 * A scheme-less key with a repository path (`host/team/app`) is a deliberate per-repository
 * credential for containers/image and is not a competitor.
 */
export function isCompetingKey(existing: string, key: string): boolean {
  if (existing === key) return false
  const lower = existing.toLowerCase()
  const scheme = lower.startsWith('https://') ? 8 : lower.startsWith('http://') ? 7 : 0
  if (scheme > 0) {
    const rest = lower.slice(scheme)
    const slash = rest.indexOf('/')
    return (slash < 0 ? rest : rest.slice(0, slash)) === key
  }
  const slash = lower.indexOf('/')
  if (slash < 0) return lower === key
  const host = lower.slice(0, slash)
  const path = lower.slice(slash + 1)
  return host === key && ['', 'v1', 'v1/', 'v2', 'v2/'].includes(path)
}
