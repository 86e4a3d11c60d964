// Text that came from outside (IMDS, a registry, a file) made safe for a terminal or the journal.

/**
 * C0 controls (line breaks and tabs too: each log line is one record), DEL, C1 controls, the
 * Unicode line and paragraph separators, the bidi marks, overrides and isolates, and the invisible
 * characters that can hide text (soft hyphen, zero-width ones, the byte-order mark, interlinear
 * annotation marks, tags), each as \uXXXX (\u{XXXXX} beyond the BMP). Backslashes stay as they
 * are: the output is for people, not for parsing back.
 */
const unprintable =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}]/gu

export const printable = (text: string): string =>
  text.replace(unprintable, (c) => {
    const code = c.codePointAt(0)!
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
