// Root's home from an image's /etc/passwd (install --root's default config file).
import { describe, expect, it } from 'vitest'
import { rootHome } from '../../src/fs/passwd.js'

describe('rootHome', () => {
  it('reads the home of uid 0 from passwd, else /root', () => {
    expect(rootHome('daemon:x:1:1::/usr/sbin:/bin/false\ntoor:x:0:0::/var/root:/bin/sh\n')).toBe('/var/root')
    expect(rootHome('')).toBe('/root')
    expect(rootHome('garbage')).toBe('/root')
  })
})
