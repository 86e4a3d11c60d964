// The kubelet's CredentialProviderConfig (k8s.io/kubelet/config/v1) for this provider, as JSON or
// YAML. Pure. The YAML is emitted by hand: the shape is fixed and flat, and every string is
// written double-quoted (JSON's escapes are valid YAML), so no value can be misread as a number,
// boolean, null or comment.

import { supportedApiVersions } from './protocol.js'

export interface ProviderConfigInput {
  /** The executable's file name in --image-credential-provider-bin-dir. */
  readonly name: string
  /** Registry keys (`host[:port]`), matched exactly. */
  readonly matchImages: readonly string[]
  readonly defaultCacheDuration: string
  /** Arguments kubelet passes to the executable: the command and the flags it was given. */
  readonly args: readonly string[]
}

export interface CredentialProviderConfig {
  readonly apiVersion: 'kubelet.config.k8s.io/v1'
  readonly kind: 'CredentialProviderConfig'
  readonly providers: ReadonlyArray<{
    readonly name: string
    readonly matchImages: readonly string[]
    readonly defaultCacheDuration: string
    readonly apiVersion: string
    readonly args: readonly string[]
  }>
}

export function providerConfig(input: ProviderConfigInput): CredentialProviderConfig {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1',
    kind: 'CredentialProviderConfig',
    providers: [
      {
        name: input.name,
        matchImages: [...input.matchImages],
        defaultCacheDuration: input.defaultCacheDuration,
        apiVersion: supportedApiVersions[0],
        args: [...input.args],
      },
    ],
  }
}

const q = (value: string): string => JSON.stringify(value)

export function renderYaml(config: CredentialProviderConfig): string {
  const lines = [`apiVersion: ${q(config.apiVersion)}`, `kind: ${q(config.kind)}`, 'providers:']
  for (const p of config.providers) {
    lines.push(`  - name: ${q(p.name)}`, '    matchImages:', ...p.matchImages.map((m) => `      - ${q(m)}`))
    lines.push(`    defaultCacheDuration: ${q(p.defaultCacheDuration)}`, `    apiVersion: ${q(p.apiVersion)}`)
    lines.push(p.args.length === 0 ? '    args: []' : '    args:', ...p.args.map((a) => `      - ${q(a)}`))
  }
  return `${lines.join('\n')}\n`
}

export const renderJson = (config: CredentialProviderConfig): string => `${JSON.stringify(config, null, 2)}\n`
