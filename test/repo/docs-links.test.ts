// The README and docs/ link to each other and to files in the repository. A moved file or a renamed
// heading breaks such a link silently, so every relative link must resolve: to an existing file and,
// for `#anchor`, to a heading of that file as GitHub names it.
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { exitCodeTable } from '../../src/errors.js'

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const pages = [
  'README.md',
  ...readdirSync(join(repoRoot, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
]

/** The text outside fenced code blocks, with inline code spans kept only as their text. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '')
}

/** GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces to `-`. */
function slug(heading: string): string {
  const text = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '')
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-')
}

function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const result = new Set<string>()
  for (const m of prose(markdown).matchAll(/^#{1,6} +(.+?) *#* *$/gm)) {
    const base = slug(m[1]!)
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    result.add(n === 0 ? base : `${base}-${n}`)
  }
  return result
}

/** Relative link targets of a page: `[text](target)`, skipping URLs with a scheme. */
function relativeLinks(markdown: string): string[] {
  const text = prose(markdown).replace(/`[^`\n]*`/g, 'code')
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t))
}

describe('documentation links', () => {
  it.each(pages)('every relative link in %s resolves to a file and, for #anchors, a heading', (page) => {
    const source = readFileSync(join(repoRoot, page), 'utf8')
    const links = relativeLinks(source)
    const broken: string[] = []
    for (const link of links) {
      const [path, anchor] = link.split('#', 2) as [string, string | undefined]
      const target = path === '' ? join(repoRoot, page) : join(repoRoot, dirname(page), decodeURIComponent(path))
      if (!existsSync(target)) {
        broken.push(`${link}: no file ${relative(repoRoot, target)}`)
        continue
      }
      if (anchor !== undefined && target.endsWith('.md') && !anchors(readFileSync(target, 'utf8')).has(anchor)) {
        broken.push(`${link}: no heading #${anchor} in ${relative(repoRoot, target)}`)
      }
    }
    expect(broken).toEqual([])
  })

  it('the README links every page in docs/ (its index) and stays within 200 lines', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
    const linked = new Set(relativeLinks(readme).map((l) => l.split('#')[0]))
    expect(pages.filter((p) => p !== 'README.md' && !linked.has(p))).toEqual([])
    expect(readme.split('\n').length - (readme.endsWith('\n') ? 1 : 0)).toBeLessThanOrEqual(200)
  })

  it("the README's exit-code table lists exactly the codes the tool documents in --help", () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
    const rows = [...readme.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]))
    expect(rows.sort((a, b) => a - b)).toEqual(exitCodeTable.map(([code]) => code).sort((a, b) => a - b))
  })

  it('the anchor rule matches GitHub on the headings these pages use', () => {
    expect(slug('Under `--root`')).toBe('under---root')
    expect(slug('Boot writer without an image change: cloud-init user-data')).toBe(
      'boot-writer-without-an-image-change-cloud-init-user-data',
    )
    expect(slug('--json and --dry-run')).toBe('--json-and---dry-run')
    expect([...anchors('# A\n## A\n```\n# not a heading\n```\n')]).toEqual(['a', 'a-1'])
  })
})
