// The layering rule of issue 19: the core (IMDS, files, config rules, kubelet, systemd, registry,
// settings, logging) imports nothing from src/cli, so it can be read and reused without the CLI.
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot } from '../support/helpers.js'

const src = join(repoRoot, 'src')
const coreFolders = ['imds', 'fs', 'config', 'kubelet', 'systemd', 'registry', 'settings', 'verify']
const coreRootFiles = ['log.ts', 'errors.ts', 'printable.ts', 'clock.ts']

/** Every module a file names: static imports and re-exports (type-only too) and dynamic import(). */
export function importedPaths(text: string): string[] {
  const found: string[] = []
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)) found.push(m[1]!)
  return found
}

function coreFiles(): string[] {
  const files = coreRootFiles.map((f) => join(src, f))
  for (const folder of coreFolders) {
    for (const entry of readdirSync(join(src, folder), { recursive: true, encoding: 'utf8' })) {
      if (entry.endsWith('.ts')) files.push(join(src, folder, entry))
    }
  }
  return files
}

describe('layering', () => {
  it('finds every form of import', () => {
    const text =
      "import a from '../cli/a.js'\nimport type { B } from \"../cli/b.js\"\nexport { c } from '../cli/c.js'\n" +
      "import '../cli/d.js'\nconst e = await import('../cli/e.js')"
    expect(importedPaths(text)).toEqual(['../cli/a.js', '../cli/b.js', '../cli/c.js', '../cli/d.js', '../cli/e.js'])
  })

  it('no core file imports from src/cli', () => {
    const files = coreFiles()
    expect(files.length).toBeGreaterThan(20)
    const offending: string[] = []
    for (const file of files) {
      for (const path of importedPaths(readFileSync(file, 'utf8'))) {
        if (!path.startsWith('.')) continue
        const target = relative(src, resolve(dirname(file), path))
        const edge = `${relative(src, file)} -> ${target.replace(/\.js$/, '.ts')}`
        if (target.startsWith(`cli/`)) offending.push(edge)
      }
    }
    expect(offending).toEqual([])
  })
})

describe('size', () => {
  /** Every .ts file under src/. */
  const srcFiles = (): string[] =>
    readdirSync(src, { recursive: true, encoding: 'utf8' })
      .filter((entry) => entry.endsWith('.ts'))
      .map((entry) => join(src, entry))

  it('no src file over 300 lines, no line over 140 characters', () => {
    const over: string[] = []
    for (const file of srcFiles()) {
      const lines = readFileSync(file, 'utf8').split('\n')
      if (lines.length > 301) over.push(`${relative(src, file)}: ${lines.length - 1} lines`)
      lines.forEach((line, i) => {
        if (line.length > 140) over.push(`${relative(src, file)}:${i + 1}: ${line.length} characters`)
      })
    }
    expect(over).toEqual([])
  })
})
