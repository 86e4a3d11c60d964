// The kubelet image credential provider exec protocol (k8s.io/kubelet/pkg/apis/credentialprovider):
// a CredentialProviderRequest on stdin, a CredentialProviderResponse on stdout. Pure functions only.

import { isHostPort } from '../config/registry-keys.js'
import { usageError } from '../errors.js'

export const providerGroup = 'credentialprovider.kubelet.k8s.io'
/** v1beta1 has the same request and response fields as v1, so answering it costs nothing. */
export const supportedApiVersions = [`${providerGroup}/v1`, `${providerGroup}/v1beta1`] as const
export type ProviderApiVersion = (typeof supportedApiVersions)[number]

/** Far above any request kubelet sends (an image name, perhaps a token and a few annotations). */
export const maxRequestBytes = 64 * 1024

export interface ProviderRequest {
  readonly apiVersion: ProviderApiVersion
  readonly image: string
  /** Only sent when the kubelet config has tokenAttributes; never printed. */
  readonly hasServiceAccountToken: boolean
}

const invalid = (message: string) =>
  usageError(
    `invalid CredentialProviderRequest on stdin: ${message}`,
    'kubelet runs this command through --image-credential-provider-config; see iid-docker-auth kubelet-config',
  )

const describe = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value)

/**
 * Parses the request. Unknown fields are ignored: newer kubelets add fields (serviceAccountToken
 * came in 1.33), and rejecting them would break pulls on an upgrade. Known fields are type-checked.
 */
export function parseProviderRequest(text: string): ProviderRequest {
  if (text.trim() === '') throw invalid('stdin is empty')
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw invalid(`not valid JSON (${(error as Error).message})`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw invalid(`a JSON object is required, got ${describe(parsed)}`)
  const fields = parsed as Record<string, unknown>
  const { apiVersion, kind, image } = fields
  if (typeof apiVersion !== 'string')
    throw invalid(`"apiVersion" is ${apiVersion === undefined ? 'missing' : `${describe(apiVersion)}, not a string`}`)
  if (!(supportedApiVersions as readonly string[]).includes(apiVersion)) {
    throw usageError(
      `unsupported apiVersion ${JSON.stringify(apiVersion)} in the CredentialProviderRequest`,
      `set apiVersion: ${supportedApiVersions[0]} for this provider in the kubelet's credential provider config`,
    )
  }
  if (kind !== 'CredentialProviderRequest')
    throw invalid(
      `"kind" is ${typeof kind === 'string' ? JSON.stringify(kind) : kind === undefined ? 'missing' : describe(kind)}, ` +
        'not "CredentialProviderRequest"',
    )
  if (typeof image !== 'string' || image === '')
    throw invalid(`"image" is ${image === undefined ? 'missing' : image === '' ? 'empty' : `${describe(image)}, not a string`}`)
  const token = fields['serviceAccountToken']
  if (token !== undefined && typeof token !== 'string') throw invalid(`"serviceAccountToken" is ${describe(token)}, not a string`)
  const annotations = fields['serviceAccountAnnotations']
  if (annotations !== undefined && annotations !== null) {
    if (typeof annotations !== 'object' || Array.isArray(annotations) || Object.values(annotations).some((v) => typeof v !== 'string')) {
      throw invalid('"serviceAccountAnnotations" is not an object of strings')
    }
  }
  return { apiVersion: apiVersion as ProviderApiVersion, image, hasServiceAccountToken: typeof token === 'string' && token !== '' }
}

export type ImageRegistry = { readonly kind: 'docker-hub' } | { readonly kind: 'host'; readonly host: string }

/**
 * The registry of an image reference `[host[:port]/]path[:tag][@digest]`, split as Docker and
 * kubelet split it: the part before the first `/` is a host only if it holds `.` or `:`, is
 * `localhost`, or has upper case (distribution/reference's rule); otherwise, or with no `/`,
 * the image is on Docker Hub. `host` keeps the image's own spelling, since kubelet matches the
 * response's auth keys against the image text.
 */
export function imageRegistry(image: string): ImageRegistry {
  if (/[\s\u0000-\u001f\u007f]/.test(image)) throw invalid(`image ${JSON.stringify(image)} contains white space or control characters`)
  const slash = image.indexOf('/')
  if (slash < 0) return { kind: 'docker-hub' }
  const first = image.slice(0, slash)
  if (!(/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase())) return { kind: 'docker-hub' }
  if (!isHostPort(first.toLowerCase())) throw invalid(`image ${JSON.stringify(image)} does not start with a valid registry host[:port]`)
  if (image.length === slash + 1 || image[slash + 1] === '@' || image[slash + 1] === ':')
    throw invalid(`image ${JSON.stringify(image)} has no repository path after its registry`)
  return { kind: 'host', host: first }
}

export interface ProviderCredential {
  readonly username: string
  readonly password: string
}

export interface ProviderResponse {
  readonly apiVersion: ProviderApiVersion
  readonly kind: 'CredentialProviderResponse'
  readonly cacheKeyType: 'Registry'
  readonly cacheDuration: string
  readonly serviceAccountTokenCacheType?: 'ServiceAccount'
  readonly auth: Readonly<Record<string, ProviderCredential>>
}

/**
 * The response, keyed by registry: one credential serves every image on the host. An empty
 * `auth` tells kubelet this provider has nothing for the image. When kubelet sent a service
 * account token it ignores a response without serviceAccountTokenCacheType; the credential does
 * not depend on the pod at all, so `ServiceAccount` (the wider cache) is right. That field exists
 * only in v1.
 */
export function providerResponse(
  request: ProviderRequest,
  cacheDuration: string,
  auth: Readonly<Record<string, ProviderCredential>>,
): ProviderResponse {
  return {
    apiVersion: request.apiVersion,
    kind: 'CredentialProviderResponse',
    cacheKeyType: 'Registry',
    cacheDuration,
    ...(request.hasServiceAccountToken && request.apiVersion === supportedApiVersions[0]
      ? { serviceAccountTokenCacheType: 'ServiceAccount' as const }
      : {}),
    auth,
  }
}

// Go accepts both micro signs, U+00B5 and U+03BC. They are written as escapes because the bundle
// must stay ASCII (scripts/build.mjs says why).
const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, '\u00b5s': 1e-3, '\u03bcs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
/** A year: far beyond any sensible cache, and small enough that milliseconds stay exact. */
const maxDurationMs = 8760 * 3_600_000

/**
 * A Go duration (`1h`, `90m`, `1h30m`, `45s`, `0`) as whole milliseconds: 0 (kubelet then does
 * not cache) or from 1 s up to 8760h. Anything under a second is refused, since a cache that
 * short only multiplies IMDS calls.
 */
export function parseGoDuration(value: string, source: string): number {
  const text = value.trim()
  const fail = () =>
    usageError(
      `${source} ${JSON.stringify(value)} is not a Go duration of 0 or 1s to 8760h`,
      `write it as kubelet does, e.g. ${source.startsWith('-') ? `${source} 1h` : `${source}=1h`} or 30m or 1h30m; ` +
        "0 disables kubelet's cache",
    )
  if (text === '0') return 0
  if (!/^(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$/.test(text)) throw fail()
  let ms = 0
  for (const match of text.matchAll(/([0-9]*\.?[0-9]*)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/g)) ms += Number(match[1]) * unitMs[match[2]!]!
  ms = Math.round(ms)
  if (!(ms === 0 || (ms >= 1000 && ms <= maxDurationMs))) throw fail()
  return ms
}

/** Milliseconds as Go's time.Duration.String() prints them: `1h0m0s`, `1m30s`, `1.5s`, `0s`. */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s'
  if (ms < 1000) return `${ms}ms`
  const hours = Math.floor(ms / 3_600_000)
  const minutes = Math.floor((ms % 3_600_000) / 60_000)
  const rest = ms % 60_000
  const seconds = `${Math.floor(rest / 1000)}${
    rest % 1000 === 0
      ? ''
      : `.${String(rest % 1000)
          .padStart(3, '0')
          .replace(/0+$/, '')}`
  }s`
  if (hours > 0) return `${hours}h${minutes}m${seconds}`
  if (minutes > 0) return `${minutes}m${seconds}`
  return seconds
}
