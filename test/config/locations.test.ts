// Which config files a run uses (src/config/locations.ts).
import { describe, expect, it } from 'vitest'
import { resolveConfigLocations } from '../../src/config/locations.js'
import { type SettingFlags, resolveSettings } from '../../src/settings/settings.js'
import { withSettingsFile } from '../../src/settings/settings-file.js'
import { parseEnvironmentFile } from '../../src/systemd/env-file-syntax.js'
import { expectUsage } from '../support/expect-usage.js'

const resolve = (flags: SettingFlags, env: Record<string, string> = {}) => resolveSettings(flags, env)

describe('resolveConfigLocations', () => {
  const home = () => '/home/from-passwd'
  const locations = (flags: SettingFlags, env: Record<string, string>, cwd: string | null = '/cwd') =>
    resolveConfigLocations(resolve({ registry: ['r'], ...flags }, env).config, env, cwd ?? undefined, home)
  it('prefers --config, then DOCKER_CONFIG, then the passwd home (never $HOME)', () => {
    expect(locations({ config: ['rel/c.json', '/abs/c.json'] }, { DOCKER_CONFIG: '/d' })).toEqual([
      { path: '/cwd/rel/c.json', source: '--config' },
      { path: '/abs/c.json', source: '--config' },
    ])
    expect(locations({}, { DOCKER_CONFIG: 'relative/dir', HOME: '/h' })).toEqual([
      { path: '/cwd/relative/dir/config.json', source: 'DOCKER_CONFIG' },
    ])
    expect(locations({}, { HOME: '/h' })).toEqual([
      { path: '/home/from-passwd/.docker/config.json', source: 'passwd home of the effective user' },
    ])
  })

  it('trims the variable’s items and names the variable, or the file it came from', () => {
    expect(locations({}, { IID_DOCKER_AUTH_CONFIG: 'a.json, /b.json ,' })).toEqual([
      { path: '/cwd/a.json', source: 'IID_DOCKER_AUTH_CONFIG' },
      { path: '/b.json', source: 'IID_DOCKER_AUTH_CONFIG' },
    ])
    const file = (text: string) => ({ path: '/etc/default/iid-docker-auth', ...parseEnvironmentFile(text) })
    const { env, origin } = withSettingsFile(
      { IID_DOCKER_AUTH_REGISTRIES: 'env.example.com' },
      file('IID_DOCKER_AUTH_CONFIG=" /x.json"\nIID_DOCKER_AUTH_REGISTRIES=file.example.com\n'),
    )
    const options = resolveSettings({}, env, origin)
    expect(options.registries).toEqual([{ key: 'env.example.com' }])
    expect(resolveConfigLocations(options.config, env, '/cwd', home)).toEqual([
      { path: '/x.json', source: '/etc/default/iid-docker-auth:1' },
    ])
    const comma = withSettingsFile({}, file('# registries\nIID_DOCKER_AUTH_REGISTRIES=,\n'))
    expectUsage(
      () => resolveSettings({}, comma.env, comma.origin),
      /^IID_DOCKER_AUTH_REGISTRIES in \/etc\/default\/iid-docker-auth:2 "," names no registry$/,
    )
  })

  it.each<[SettingFlags, Record<string, string>, RegExp]>([
    [{}, { IID_DOCKER_AUTH_CONFIG: '' }, /^IID_DOCKER_AUTH_CONFIG "" names no config file$/],
    [{}, { IID_DOCKER_AUTH_CONFIG: ' , ' }, /^IID_DOCKER_AUTH_CONFIG " , " names no config file$/],
    [{ config: [''] }, {}, /^--config "" names no config file$/],
    [{ config: ['/a.json', ' '] }, {}, /^--config " " names no config file$/],
  ])('refuses an empty config %j %j instead of falling back to the default', (flags, env, message) => {
    expectUsage(() => locations(flags, env), message)
  })

  it('needs the working directory only for a relative path', () => {
    expect(locations({ config: ['/abs.json'] }, {}, null)).toEqual([{ path: '/abs.json', source: '--config' }])
    expectUsage(
      () => locations({ config: ['rel.json'] }, {}, null),
      /--config "rel.json" is a relative path, and the working directory no longer exists/,
    )
    expectUsage(() => locations({ config: [`/${'a'.repeat(5000)}`] }, {}), /is longer than any path can be/)
  })
})
