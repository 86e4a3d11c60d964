// Text that came from outside (IMDS, a registry, a file) made safe for a terminal or the journal.

/**
 * C0 controls (line breaks and tabs too: each log line is one record), DEL, C1 controls, the
 * Unicode line and paragraph separators, and the bidi marks and overrides, each as \uXXXX.
 * Backslashes stay as they are: the output is for people, not for parsing back.
 */
const unprintable = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

export const printable = (text: string): string => text.replace(unprintable, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
