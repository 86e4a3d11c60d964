// Config documents for the merge, diagnostics and reading tests: parsed from text as a run parses them.
import { parseConfig, renderConfig } from '../../src/config/docker-config.js'
import { planMerge } from '../../src/config/merge.js'

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
export const doc = (text: string) => parseConfig(bytes(text), '/c/config.json')
export const entry = (key: string, auth = 'bmV3OnBrY3M3') => ({ key, auth })
export const b64 = (text: string): string => Buffer.from(text).toString('base64')
/** The user name in our entries ('new', as in 'bmV3OnBrY3M3') and an older entry of ours. */
export const username = 'new'
export const older = b64('new:old-pkcs7')
/** Our entry merged into `text`: the plan, the text written, and its value. */
export const merged = (text: string, entries = [entry('r.example.com')], user = username) => {
  const plan = planMerge(doc(text), entries, user)
  return { plan, text: renderConfig(plan.root), value: JSON.parse(renderConfig(plan.root)) as Record<string, any> }
}
