// A small line diff for --dry-run: the whole new file, with "+ " on added lines, "- " on removed
// ones and "  " on the rest. Our changes touch one region of `auths` at a time, so trimming the
// common head and tail gives the exact change without a general diff algorithm.

export function lineDiff(before: string, after: string): string {
  const a = before === '' ? [] : before.replace(/\n$/, '').split('\n')
  const b = after.replace(/\n$/, '').split('\n')
  let head = 0
  while (head < a.length && head < b.length && a[head] === b[head]) head++
  let tail = 0
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++
  const out = [
    ...b.slice(0, head).map((l) => `  ${l}`),
    ...a.slice(head, a.length - tail).map((l) => `- ${l}`),
    ...b.slice(head, b.length - tail).map((l) => `+ ${l}`),
    ...b.slice(b.length - tail).map((l) => `  ${l}`),
  ]
  return `${out.join('\n')}\n`
}
