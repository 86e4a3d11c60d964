// credential-helper mode in config.json: install's credHelpers mapping, remove, and what check and
// the warnings make of it (src/config/merge.ts, entries.ts, diagnostics.ts).
import { describe, expect, it } from 'vitest'
import { routeLines } from '../../src/commands/check-lines.js'
import { diagnose } from '../../src/config/diagnostics.js'
import { authsSource, credentialSource } from '../../src/config/entries.js'
import { parseConfig, renderConfig } from '../../src/config/docker-config.js'
import { planCredentialHelper, planRemove } from '../../src/config/merge.js'
import { buildAuth } from '../../src/imds/identity.js'

const doc = (value: unknown) => parseConfig(Buffer.from(JSON.stringify(value)), '/c/config.json')
const ours = buildAuth('instance-identity-document', 'MIIB', false)
const theirs = Buffer.from('robot:pw').toString('base64')

describe('credential-helper mode in config.json', () => {
  it('install maps the registry to iid, removes only our auths entries (any spelling), keeps others’ with a warning', () => {
    const plan = planCredentialHelper(
      doc({
        auths: {
          'pierone.example.com': { auth: ours },
          'https://pierone.example.com/v1/': { auth: ours },
          'b.example.com': { auth: theirs },
          'other.example.com': { auth: ours },
        },
        credHelpers: { 'ecr.example.com': 'ecr-login' },
      }),
      ['pierone.example.com', 'b.example.com'],
      'instance-identity-document',
    )
    expect(JSON.parse(renderConfig(plan.root))).toEqual({
      auths: { 'b.example.com': { auth: theirs }, 'other.example.com': { auth: ours } },
      credHelpers: { 'ecr.example.com': 'ecr-login', 'pierone.example.com': 'iid', 'b.example.com': 'iid' },
    })
    expect(plan.changes.removed).toEqual(['auths["pierone.example.com"]', 'auths["https://pierone.example.com/v1/"]'])
    expect(plan.warnings).toEqual([
      expect.stringMatching(/^auths\["b.example.com"\] holds a login this tool did not write \(user "robot"\); kept/),
    ])
  })

  it('install is idempotent, and replaces another helper for our registry with a warning', () => {
    const again = planCredentialHelper(
      doc({ credHelpers: { 'pierone.example.com': 'iid' } }),
      ['pierone.example.com'],
      'instance-identity-document',
    )
    expect(again.changes).toEqual({ added: [], updated: [], removed: [] })
    const replaced = planCredentialHelper(
      doc({ credHelpers: { 'pierone.example.com': 'pierone' } }),
      ['pierone.example.com'],
      'instance-identity-document',
    )
    expect(JSON.parse(renderConfig(replaced.root))).toEqual({ credHelpers: { 'pierone.example.com': 'iid' } })
    expect(replaced.warnings).toEqual(['replaced credHelpers["pierone.example.com"], which named docker-credential-pierone'])
  })

  it('a credHelpers that is not an object is refused (78)', () => {
    expect(() => planCredentialHelper(doc({ credHelpers: ['x'] }), ['pierone.example.com'], 'instance-identity-document')).toThrow(
      /"credHelpers" is a JSON array/,
    )
  })

  it('remove takes only our mapping; others’ stay, an emptied credHelpers goes', () => {
    const plan = planRemove(
      doc({ credHelpers: { 'pierone.example.com': 'iid', 'ecr.example.com': 'ecr-login', 'b.example.com': 'pierone' } }),
      ['pierone.example.com', 'b.example.com'],
      'instance-identity-document',
    )
    expect(JSON.parse(renderConfig(plan.root))).toEqual({ credHelpers: { 'ecr.example.com': 'ecr-login', 'b.example.com': 'pierone' } })
    expect(
      JSON.parse(renderConfig(planRemove(doc({ credHelpers: { 'pierone.example.com': 'iid' } }), ['pierone.example.com'], 'x').root)),
    ).toEqual({})
  })

  it('diagnostics: credHelpers iid is the intended setup; another helper or credsStore still shadows', () => {
    const fails = (value: unknown) =>
      diagnose(doc(value).root, ['pierone.example.com'], 'instance-identity-document', 'rerun').map((f) => `${f.verdict}: ${f.message}`)
    expect(fails({ credHelpers: { 'pierone.example.com': 'iid' } })).toEqual([])
    // credHelpers beats credsStore, so a desktop store no longer shadows our registry.
    expect(fails({ credHelpers: { 'pierone.example.com': 'iid' }, credsStore: 'desktop' })).toEqual([])
    expect(fails({ credsStore: 'iid' })).toEqual([])
    expect(fails({ credHelpers: { 'pierone.example.com': 'ecr-login' } })).toEqual([
      expect.stringMatching(/^fail: "credHelpers" names pierone.example.com \(docker-credential-ecr-login\)/),
    ])
    expect(fails({ credsStore: 'desktop' })).toEqual([expect.stringMatching(/^fail: "credsStore": "desktop" is set/)])
  })

  it('check says which way each client gets the credential', () => {
    const lines = (value: unknown, onPath = true) => {
      const root = doc(value).root
      return routeLines(
        '/c',
        'pierone.example.com',
        credentialSource(root, 'pierone.example.com', 'instance-identity-document'),
        authsSource(root, 'pierone.example.com', 'instance-identity-document'),
        onPath,
      ).map((l) => `${l.verdict}: ${l.message}`)
    }
    expect(lines({ credHelpers: { 'pierone.example.com': 'iid' } })).toEqual([
      "ok: /c: Docker CLI, skopeo/podman/buildah, crane, nerdctl and BuildKit get pierone.example.com's credential from docker-credential-iid (credHelpers)",
      'ok: /c: kubelet and containerd CRI get nothing (no auths entry; they do not run credential helpers) for pierone.example.com',
    ])
    expect(lines({ credsStore: 'iid' }, false)).toEqual([
      "ok: /c: Docker CLI, skopeo/podman/buildah, crane, nerdctl and BuildKit get pierone.example.com's credential from docker-credential-iid (credsStore)",
      'fail: /c: docker-credential-iid is not on PATH, so those clients fail for pierone.example.com',
      'ok: /c: kubelet and containerd CRI get nothing (no auths entry; they do not run credential helpers) for pierone.example.com',
    ])
    expect(lines({ credsStore: 'desktop', auths: { 'pierone.example.com': { auth: ours } } })).toEqual([
      'ok: /c: Docker CLI, skopeo/podman/buildah, crane, nerdctl and BuildKit ask docker-credential-desktop (credsStore) for pierone.example.com',
      "ok: /c: kubelet and containerd CRI get this tool's auths entry for pierone.example.com",
    ])
  })
})
