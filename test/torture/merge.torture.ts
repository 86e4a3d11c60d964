// Merge preservation, property-based (fast-check): for arbitrary config documents the merge changes
// exactly our keys and nothing else, and merging twice equals merging once. Then a corpus of hostile
// files through the real CLI, each with its documented outcome.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { foldKey, goObject, parseConfig, renderConfig } from '../../src/config/docker-config.js'
import { planMerge } from '../../src/config/merge.js'
import { isOwnEntry } from '../../src/config/entries.js'
import { type JsonMember, type JsonNode, type JsonObject, getMember, jsonString, serializeJson } from '../../src/config/json-document.js'
import { isCompetingKey } from '../../src/config/registry-keys.js'
import { rootOrCi, runCli, useSimulator, useTempDir } from '../support/helpers.js'

const ours = 'pierone.example.com'
const username = 'instance-identity-document'
const auth = Buffer.from(`${username}:MIAGCSqGSIb3`).toString('base64')

const key = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '__proto__',
      'constructor',
      'toString',
      '0',
      '-1',
      'auths',
      'credsStore',
      'credHelpers',
      'proxies',
      'plugins',
    ),
  },
)
const registryKey = fc.oneof(
  { weight: 4, arbitrary: fc.domain() },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      ours,
      `https://${ours}/v1/`,
      `http://${ours}`,
      `${ours}/`,
      'PIERONE.EXAMPLE.COM',
      `${ours}/team/app`,
      `${ours}:443`,
    ),
  },
)
const member = (k: fc.Arbitrary<string>, v: fc.Arbitrary<JsonNode>): fc.Arbitrary<JsonMember> =>
  fc.tuple(k, v).map(([key, value]) => ({ key, rawKey: JSON.stringify(key), value }))

const { node } = fc.letrec<{ node: JsonNode; scalar: JsonNode }>((tie) => ({
  scalar: fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 20 }).map((value): JsonNode => jsonString(value)),
    fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((n): JsonNode => n.toString()),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d): JsonNode => JSON.stringify(d)),
    fc.constantFrom<JsonNode>('true', 'false', 'null'),
  ),
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('scalar'),
    fc.array(tie('node'), { maxLength: 4 }).map((items): JsonNode => ({ kind: 'array', items })),
    fc.array(member(key, tie('node')), { maxLength: 5 }).map((members): JsonNode => ({ kind: 'object', members })),
  ),
}))

const ownOlderEntry: fc.Arbitrary<JsonNode> = fc.string({ maxLength: 8 }).map((pkcs7): JsonNode => {
  const value = Buffer.from(`${username}:${pkcs7}`).toString('base64')
  return { kind: 'object', members: [{ key: 'auth', rawKey: '"auth"', value: jsonString(value) }] }
})

const authsEntries = fc.array(member(registryKey, fc.oneof({ weight: 3, arbitrary: node }, { weight: 1, arbitrary: ownOlderEntry })), {
  maxLength: 8,
})
/** Spellings Go's decoder reads as auths: it merges them all, in order, a null emptying what came before. */
const authsSpelling = fc.constantFrom('auths', 'auths', 'Auths', 'AUTHS', 'auth\u017f')

/**
 * A config document: arbitrary members, usually an `auths` object with arbitrary entries (some of
 * them this tool's own older ones: those, under a competing spelling, go), sometimes more under
 * other spellings or null.
 */
const configDocument: fc.Arbitrary<JsonObject> = fc
  .tuple(
    fc.array(
      member(
        key.filter((k) => foldKey(k) !== 'auths'),
        node,
      ),
      { maxLength: 6 },
    ),
    fc.array(fc.tuple(authsSpelling, fc.option(authsEntries, { nil: undefined, freq: 6 }), fc.nat()), { maxLength: 3 }),
  )
  .map(([members, auths]) => {
    const copy = [...members]
    for (const [spelling, entries, at] of auths) {
      const value: JsonNode = entries === undefined ? 'null' : { kind: 'object', members: entries }
      copy.splice(at % (copy.length + 1), 0, { key: spelling, rawKey: JSON.stringify(spelling), value })
    }
    return { kind: 'object', members: copy }
  })

const text = (n: JsonNode): string => serializeJson(n)
/** Members the merge may change: our key, and competing spellings that hold our own older entry. */
const isOursOrOwnSpelling = (m: JsonMember): boolean => m.key === ours || (isCompetingKey(m.key, ours) && isOwnEntry(m.value, username))

describe('merge properties', () => {
  it('changes exactly our keys, keeps everything else in order, and is idempotent', () => {
    fc.assert(
      fc.property(configDocument, fc.boolean(), (doc, pretty) => {
        const source = pretty ? serializeJson(doc) : serializeJson(doc).replace(/\n\t*/g, '')
        const parsed = parseConfig(new TextEncoder().encode(source), '/c')
        const plan = planMerge(parsed, [{ key: ours, auth }], username)
        const after = plan.root

        // Top level: the same members in the same order; only those Go reads as auths may differ.
        const isAuths = (m: JsonMember): boolean => foldKey(m.key) === 'auths'
        const lastAuths = doc.members.findLastIndex(isAuths)
        // A last null that empties earlier, non-empty maps stays: ours goes in a new member after it.
        // (what it hides once our own older entries under other spellings are taken out of it)
        const hides = (m: JsonMember): boolean =>
          isAuths(m) &&
          typeof m.value === 'object' &&
          m.value.kind === 'object' &&
          m.value.members.some((e) => e.key === ours || !isOursOrOwnSpelling(e))
        const emptying = lastAuths > 0 && doc.members[lastAuths]!.value === 'null' && doc.members.slice(0, lastAuths).some(hides)
        expect(after.members.map((m) => m.key)).toEqual(
          lastAuths < 0 || emptying ? [...doc.members.map((m) => m.key), 'auths'] : doc.members.map((m) => m.key),
        )
        doc.members.forEach((m, i) => {
          if (!isAuths(m)) expect(text(after.members[i]!.value)).toBe(text(m.value))
        })

        // Each auths object: the others kept, in order and byte-identical; ours once, in the last, which Go reads last.
        const membersOf = (n: JsonNode | undefined): readonly JsonMember[] =>
          typeof n === 'object' && n.kind === 'object' ? n.members : []
        const others = (n: JsonNode | undefined) =>
          membersOf(n)
            .filter((m) => !isOursOrOwnSpelling(m))
            .map((m) => `${m.rawKey}:${text(m.value)}`)
        const into = lastAuths < 0 || emptying ? after.members.length - 1 : lastAuths
        after.members.forEach((m, i) => {
          if (!isAuths(m)) return
          const mine =
            i === into
              ? [ours]
              : membersOf(doc.members[i]!.value)
                  .filter((e) => e.key === ours)
                  .map(() => ours)
          expect(others(m.value)).toEqual(others(i < doc.members.length ? doc.members[i]!.value : undefined))
          expect(
            membersOf(m.value)
              .filter(isOursOrOwnSpelling)
              .map((e) => e.key),
          ).toEqual(mine)
        })
        expect(text(getMember(goObject(after, 'auths'), ours)!)).toBe(
          text({ kind: 'object', members: [{ key: 'auth', rawKey: '"auth"', value: jsonString(auth) }] }),
        )

        // Twice equals once.
        const again = planMerge({ root: after }, [{ key: ours, auth }], username)
        expect(again.changes).toEqual({ added: [], updated: [], removed: [] })
        expect(renderConfig(again.root)).toBe(renderConfig(after))
        // And the written text reads back as the same tree.
        expect(renderConfig(parseConfig(new TextEncoder().encode(renderConfig(after)), '/c').root)).toBe(renderConfig(after))
      }),
      { numRuns: 2000 },
    )
  })
})

describe('hostile files through the CLI', () => {
  const sim = useSimulator()
  let dir: string
  let config: string
  const mounts: string[] = []
  useTempDir('iid-hostile-', (d) => {
    dir = d
    config = join(d, 'config.json')
  })
  afterEach(() => {
    for (const m of mounts.splice(0).reverse()) execFileSync('umount', [m])
  })
  const write = () => runCli(['-r', ours, '-c', config, '--endpoint', sim.url, '--timeout', '5'])

  const deep = `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`
  const big = JSON.stringify({
    auths: Object.fromEntries(
      Array.from({ length: 60_000 }, (_, i) => [
        `r${i}.example.com`,
        { auth: Buffer.from(`u${i}:p`).toString('base64'), note: 'x'.repeat(100) },
      ]),
    ),
  })

  it.each<[string, Buffer, number, RegExp]>([
    ['a BOM', Buffer.from('\uFEFF{}'), 78, /byte-order mark/],
    ['NUL bytes', Buffer.from('{"auths":{}}\u0000'), 78, /not valid JSON/],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]), 78, /not valid UTF-8/],
    ['auths as an array', Buffer.from('{"auths":[]}'), 78, /"auths" as a JSON array/],
    ['nesting 5,000 deep', Buffer.from(deep), 78, /nesting deeper than 1000 levels/],
    ['truncated JSON', Buffer.from('{"auths":{"a":{"auth":"x'), 78, /not valid JSON/],
  ])('refuses %s: exit %i, byte-identical', async (_, bytes, code, message) => {
    writeFileSync(config, bytes, { mode: 0o600 })
    const run = await write()
    expect(run.code).toBe(code)
    expect(run.stderr).toMatch(message)
    expect(readFileSync(config).equals(bytes)).toBe(true)
    expect(readdirSync(dir)).toEqual(['config.json'])
  })

  it('accepts duplicate keys, warns, and keeps them', async () => {
    writeFileSync(config, '{"a":1,"a":2,"auths":{"x.example.com":{},"x.example.com":{"auth":"dTpw"}}}', { mode: 0o600 })
    const run = await write()
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(/"a" appears more than once/)
    const out = readFileSync(config, 'utf8')
    expect(out.match(/"a": /g)).toHaveLength(2)
    expect(out.match(/"x\.example\.com": /g)).toHaveLength(2)
  })

  it(`merges into a ${(big.length / 1e6).toFixed(0)} MB file and keeps every entry`, async () => {
    writeFileSync(config, big, { mode: 0o600 })
    const run = await write()
    expect(run.code).toBe(0)
    const after = JSON.parse(readFileSync(config, 'utf8'))
    expect(Object.keys(after.auths)).toHaveLength(60_001)
    expect(after.auths['r59999.example.com'].note).toBe('x'.repeat(100))
  })

  it('refuses a FIFO and a directory without blocking (78)', async () => {
    execFileSync('mkfifo', [config])
    expect((await write()).code).toBe(78)
    rmSync(config)
    mkdirSync(config)
    expect((await write()).code).toBe(78)
  })

  it('follows a dangling symlink and creates its target, keeping the link', async () => {
    symlinkSync('real/config.json', config)
    const run = await write()
    expect(run.code).toBe(0)
    expect(readlinkSync(config)).toBe('real/config.json')
    expect(JSON.parse(readFileSync(join(dir, 'real', 'config.json'), 'utf8')).auths[ours]).toBeTruthy()
  })

  it.runIf(rootOrCi)('writes through a symlink to another filesystem (no EXDEV), and refuses a bind-mounted file (73)', async () => {
    const other = join(dir, 'other-fs')
    mkdirSync(other)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', other])
    mounts.push(other)
    writeFileSync(join(other, 'config.json'), '{"k":1}', { mode: 0o600 })
    symlinkSync(join(other, 'config.json'), config)
    const run = await write()
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(readFileSync(join(other, 'config.json'), 'utf8'))).toMatchObject({ k: 1, auths: { [ours]: {} } })
    rmSync(config)

    const source = join(dir, 'source.json')
    writeFileSync(source, '{"bound":true}')
    writeFileSync(config, '')
    execFileSync('mount', ['--bind', source, config])
    mounts.push(config)
    const bound = await write()
    expect(bound.code).toBe(73)
    expect(readFileSync(source, 'utf8')).toBe('{"bound":true}')
    expect(existsSync(`${config}.lock`)).toBe(false)
  })
})
