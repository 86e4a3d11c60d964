// Settings files that systemd reads in surprising ways, with what systemd sets from each: the unit
// test checks our reader against these, the boot test checks systemd itself against our reader.

export interface TrickyFile {
  readonly name: string
  readonly bytes: Buffer
  /** What systemd sets (and our reader gives), or the reader's refusal. */
  readonly expected: Record<string, string> | { readonly unusable: RegExp }
  /** Where systemd's reading is not the reader's (the reader refuses the file): by systemd version. */
  readonly systemd?: { readonly before254: Record<string, string>; readonly from254: Record<string, string> }
}

const file = (name: string, text: string | Buffer, expected: TrickyFile['expected'], systemd?: TrickyFile['systemd']): TrickyFile => ({
  name,
  bytes: typeof text === 'string' ? Buffer.from(text, 'utf8') : text,
  expected,
  ...(systemd === undefined ? {} : { systemd }),
})

export const trickyFiles: readonly TrickyFile[] = [
  file('crlf', 'IID_T_A=x\r\nIID_T_B="y"\r\n', { IID_T_A: 'x', IID_T_B: 'y' }),
  file('lone-cr', 'IID_T_A=x\rIID_T_B=y\r', { IID_T_A: 'x', IID_T_B: 'y' }),
  file('cr-in-quotes', 'IID_T_A="x\r\ny"\n', { IID_T_A: 'x\r\ny' }),
  file('export', 'export IID_T_A=x\nIID_T_B=y\n', { IID_T_B: 'y' }),
  file('double-quotes', 'IID_T_A="a \\"b\\" \\\\ \\$x \\`c\\` \\n d"\n', { IID_T_A: 'a "b" \\ $x `c` \\n d' }),
  file('single-quotes', 'IID_T_A=\'a "b" \\\\ $x \\n\'\n', { IID_T_A: 'a "b" \\\\ $x \\n' }),
  file('quotes-mid-value', 'IID_T_A=a"b"c\nIID_T_B="a"b\nIID_T_C="a" "b"  c \nIID_T_D=\'a\'"b"\n', {
    IID_T_A: 'a"b"c',
    IID_T_B: 'ab',
    IID_T_C: 'abc',
    IID_T_D: 'ab',
  }),
  file('comments', '# IID_T_X=1\n; IID_T_Y=1\n   # IID_T_Z=1\nIID_T_A=x # not a comment\nIID_T_B=y;z\n', {
    IID_T_A: 'x # not a comment',
    IID_T_B: 'y;z',
  }),
  file('continuation', 'IID_T_A=a\\\nb\nIID_T_B="a\\\nb"\nIID_T_C=\'a\\\nb\'\nIID_T_D=a\\\r\nIID_T_E=e\n', {
    IID_T_A: 'ab',
    IID_T_B: 'ab',
    IID_T_C: 'a\\\nb',
    IID_T_D: 'a',
    IID_T_E: 'e',
  }),
  file('whitespace', '  IID_T_A  =   x  y   \nIID_T_B=\t\nIID_T_C=" x "\nIID_T_D=x\\ \n\tIID_T_E\t=\t"e"\t\n', {
    IID_T_A: 'x  y',
    IID_T_B: '',
    IID_T_C: ' x ',
    IID_T_D: 'x ',
    IID_T_E: 'e',
  }),
  file('invalid-names', '1IID=a\nIID-T=b\nIID T=c\n=d\nIID\tT=e\nIID_T_OK=f\n', { IID_T_OK: 'f' }),
  file('no-equals', 'IID_T_A\nIID_T_B=x\nIID_T_C', { IID_T_B: 'x' }),
  file('no-final-newline', 'IID_T_A=x\nIID_T_B="unterminated', { IID_T_A: 'x', IID_T_B: 'unterminated' }),
  file('duplicates', 'IID_T_A=1\nIID_T_B=2\nIID_T_A=3\n', { IID_T_A: '3', IID_T_B: '2' }),
  file('multi-line-quotes', 'IID_T_A="one\ntwo"\nIID_T_B=\'three\nfour\'\n', { IID_T_A: 'one\ntwo', IID_T_B: 'three\nfour' }),
  file('escape-first', 'IID_T_A=\\"x"\nIID_T_B=""\nIID_T_C=\'\'\n', { IID_T_A: '"x"', IID_T_B: '', IID_T_C: '' }),
  file('bom', '\ufeffIID_T_A=x\nIID_T_B=y\n', { IID_T_B: 'y' }),
  file('utf8', 'IID_T_A=h\u00e9llo \u2603\n', { IID_T_A: 'h\u00e9llo \u2603' }),
  file('control-character', 'IID_T_A=a\u001bb\n', { IID_T_A: 'a\u001bb' }),
  // A NUL byte anywhere makes systemd refuse the file (read_full_file: EBADMSG).
  file(
    'nul',
    Buffer.from('IID_T_A=x\nIID_T_B=y\u0000IID_T_C=z\n', 'latin1'),
    { unusable: /^line 2: a NUL byte, so systemd ignores the whole file$/ },
    { before254: {}, from254: {} },
  ),
  file('comment-then-comment', '# a \\\n# b\nIID_T_A=x\n', { IID_T_A: 'x' }),
  file('comment-backslash-crlf', '# a \\\r\nIID_T_A=x\n', { IID_T_A: 'x' }),
  // systemd 254 changed this one: the reader refuses a file whose meaning depends on the version.
  file(
    'comment-continues',
    '# a \\\nIID_T_A=x\nIID_T_B=y\n',
    { unusable: /^line 1: a comment that ends in '\\' hides the next line/ },
    { before254: { IID_T_B: 'y' }, from254: { IID_T_A: 'x', IID_T_B: 'y' } },
  ),
  // Invalid UTF-8 makes systemd drop the whole file (the unit's EnvironmentFile=- then runs without it).
  file(
    'invalid-utf8',
    Buffer.concat([Buffer.from('IID_T_A=x\nIID_T_B='), Buffer.from([0xff, 0x0a])]),
    { unusable: /^line 2: invalid UTF-8 in the value of IID_T_B/ },
    { before254: {}, from254: {} },
  ),
  file('noncharacter', 'IID_T_A=\ufdd0\n', { unusable: /^line 1: invalid UTF-8 in the value of IID_T_A/ }, { before254: {}, from254: {} }),
]
