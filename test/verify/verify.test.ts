// Known answers for the verification core: documents signed the way EC2 signs them (the simulator's
// test DSA and RSA keys, both signature kinds, with and without line breaks) are accepted only with
// the right trust and policy; each refusal is named; a real AWS-signed pair verifies against the
// certificates the package ships.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { defaultDocumentFields, formatDocument, signLikeEc2, signingCertificates } from '../../sim/imds-simulator.js'
import {
  type Policy,
  createPolicy,
  createTrustStore,
  createVerifier,
  parsePemCertificates,
  shippedCertificates,
  verifyPassword,
} from '../../src/verify/index.js'

const fixture = (name: string): string => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8')
const certs = signingCertificates()
const testKeys = [
  ...parsePemCertificates(readFileSync(certs.pkcs7, 'utf8'), 'test DSA'),
  ...parsePemCertificates(readFileSync(certs.rsa2048, 'utf8'), 'test RSA'),
]
const testTrust = createTrustStore({ shipped: false, extra: testKeys })
const allowTest: Policy = createPolicy({ accounts: [defaultDocumentFields.accountId] })
const user = 'instance-identity-document'
const kinds = ['pkcs7', 'rsa2048'] as const
const document = formatDocument(defaultDocumentFields)
const signed = { pkcs7: signLikeEc2(document, 'pkcs7'), rsa2048: signLikeEc2(document, 'rsa2048') }
const oneLine = (s: string): string => s.replace(/\n/g, '')

const verifier = (policy: Policy = allowTest, trust = testTrust, now = Date.parse('2026-11-24T00:00:00Z')) =>
  createVerifier({ trust, policy, now: () => now, cache: { maxEntries: 0, ttlMs: 0 } })

async function denial(password: string, policy?: Policy, trust = testTrust): Promise<string> {
  const verdict = await verifier(policy, trust).verify(user, password)
  expect(verdict.outcome).toBe('denied')
  const reason = verdict.outcome === 'denied' ? verdict.reason : ''
  if (password !== '') expect(reason).not.toContain(oneLine(password).slice(0, 40))
  return reason
}

const work = mkdtempSync(join(tmpdir(), 'verify-kat-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))
const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })

/** Signs like EC2 with a new key whose self-signed certificate copies the trusted one's serial number. */
function signWithImpostor(content: string, kind: 'pkcs7' | 'rsa2048'): string {
  const serial = execFileSync('openssl', ['x509', '-in', certs[kind], '-noout', '-serial'], { encoding: 'utf8' }).trim().split('=')[1]!
  const key = join(work, `${kind}.key`)
  const cert = join(work, `${kind}.crt`)
  if (kind === 'pkcs7') {
    openssl('genpkey', '-genparam', '-algorithm', 'DSA', '-pkeyopt', 'dsa_paramgen_bits:2048', '-out', join(work, 'p'))
    openssl('genpkey', '-paramfile', join(work, 'p'), '-out', key)
  } else openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key)
  openssl('req', '-x509', '-key', key, '-out', cert, '-days', '30', '-subj', '/CN=impostor', '-set_serial', `0x${serial}`)
  writeFileSync(join(work, 'in'), content)
  const md = kind === 'pkcs7' ? 'sha1' : 'sha256'
  const args = ['-in', join(work, 'in'), '-signer', cert, '-inkey', key, '-nodetach', '-binary', '-outform', 'DER', '-md', md]
  openssl('smime', '-sign', ...args, '-stream', '-out', join(work, 'out.der'))
  return readFileSync(join(work, 'out.der')).toString('base64')
}

describe('accepted', () => {
  for (const kind of kinds) {
    for (const [form, password] of [
      ['lines', signed[kind]],
      ['one line', oneLine(signed[kind])],
    ] as const) {
      it(`${kind}, ${form}: allowed, with the document's fields`, async () => {
        const verdict = await verifier().verify(user, password)
        expect(verdict).toMatchObject({
          outcome: 'allowed',
          identity: {
            accountId: '123456789012',
            instanceId: defaultDocumentFields.instanceId,
            region: 'eu-central-1',
            imageId: defaultDocumentFields.imageId,
            pendingTime: defaultDocumentFields.pendingTime,
            keyType: kind === 'pkcs7' ? 'dsa' : 'rsa',
          },
        })
      })
    }
  }

  it('a real AWS-signed document, both kinds, against the shipped certificates only', () => {
    const shipped = createTrustStore()
    const expected = { accountId: '692406183521', instanceId: 'i-0a30e04d85e6f8793', region: 'us-west-2', imageId: 'ami-6b8cef13' }
    expect(verifyPassword(fixture('aws-us-west-2.pkcs7'), shipped)).toMatchObject({ ...expected, keyType: 'dsa' })
    expect(verifyPassword(oneLine(fixture('aws-us-west-2.rsa2048')), shipped)).toMatchObject({ ...expected, keyType: 'rsa' })
    // and not against the test keys alone
    expect(verifyPassword(fixture('aws-us-west-2.pkcs7'), testTrust)).toHaveProperty('reason')
  })

  it('the cache answers a repeated credential without verifying again, keyed by a hash', async () => {
    const v = createVerifier({ trust: testTrust, policy: allowTest })
    expect(await v.verify(user, signed.pkcs7)).toMatchObject({ outcome: 'allowed', cached: false })
    expect(await v.verify(user, signed.pkcs7)).toMatchObject({ outcome: 'allowed', cached: true })
    // Another spelling of the same credential is the same entry: on one line, or with CRLF and a leading space.
    for (const variant of [oneLine(signed.pkcs7), ` ${signed.pkcs7.replace(/\n/g, '\r\n')}`])
      expect(await v.verify(user, variant)).toMatchObject({ outcome: 'allowed', cached: true })
  })
})

describe('refused, each with its reason', () => {
  it('another user name is not ours (no match, not a denial)', async () => {
    expect(await verifier().verify('AWS', signed.pkcs7)).toEqual({ outcome: 'other-user' })
  })

  for (const kind of kinds) {
    it(`${kind}: a changed document`, async () => {
      const der = Buffer.from(oneLine(signed[kind]), 'base64')
      const at = der.indexOf('123456789012')
      der.write('210987654321', at)
      expect(await denial(der.toString('base64'))).toMatch(/messageDigest does not match/)
    })

    it(`${kind}: a signature from another key, carrying its own certificate with the trusted serial`, async () => {
      expect(await denial(signWithImpostor(document, kind))).toMatch(/does not verify against the certificate trusted/)
    })

    it(`${kind}: signed by the test key but checked against AWS's certificates`, async () => {
      expect(await denial(signed[kind], allowTest, createTrustStore())).toMatch(/not trusted for region eu-central-1/)
    })

    it(`${kind}: a region whose trusted certificates did not sign it`, async () => {
      const other = formatDocument({ ...defaultDocumentFields, region: 'us-east-1' })
      const regional = { forRegion: (r: string) => (r === 'eu-central-1' ? testKeys : []) }
      expect(await denial(signLikeEc2(other, kind), allowTest, regional)).toMatch(/not trusted for region us-east-1/)
    })
  }

  it('an account not allowed', async () => {
    expect(await denial(signed.pkcs7, createPolicy({ accounts: ['210987654321'] }))).toBe('account 123456789012 is not allowed')
  })

  it('a region not allowed', async () => {
    const policy = createPolicy({ accounts: ['123456789012'], regions: ['us-east-1'] })
    expect(await denial(signed.rsa2048, policy)).toBe('region eu-central-1 is not allowed')
  })

  it('an image not allowed', async () => {
    const policy = createPolicy({ accounts: ['123456789012'], images: ['ami-00000000000000000'] })
    expect(await denial(signed.rsa2048, policy)).toMatch(/^image ami-0123456789abcdef0 is not allowed/)
  })

  it('too old for --max-age', async () => {
    const policy = createPolicy({ accounts: ['123456789012'], maxAge: '12h' })
    expect(await denial(signed.pkcs7, policy)).toMatch(/longer ago than the maximum age/)
    expect((await verifier(policy, testTrust, Date.parse('2026-11-23T18:00:00Z')).verify(user, signed.pkcs7)).outcome).toBe('allowed')
  })

  it('truncated, garbage, empty, and 10 MB passwords', async () => {
    const b64 = oneLine(signed.pkcs7)
    expect(await denial(b64.slice(0, Math.floor(b64.length / 8) * 4))).toMatch(/not usable|not base64/)
    expect(await denial('this is not base64 at all!')).toMatch(/not base64/)
    expect(await denial('')).toMatch(/empty/)
    expect(await denial(Buffer.from('{"accountId":"123456789012"}').toString('base64'))).toMatch(/SEQUENCE/)
    expect(await denial('A'.repeat(10 * 1024 * 1024))).toMatch(/over the 16384 bound/)
  })

  it('a PKCS7 whose content is not an identity document', async () => {
    expect(await denial(signLikeEc2('{"hello":"world"}', 'rsa2048'))).toMatch(/names no region/)
    expect(await denial(signLikeEc2('{"region":"eu-central-1"}', 'rsa2048'))).toMatch(/accountId is missing/)
  })

  it('a signed document that repeats a key, or whose pendingTime is not a real date', async () => {
    const repeated = document.replace('{', '{"accountId":"111111111111",')
    expect(await denial(signLikeEc2(repeated, 'pkcs7'))).toMatch(/repeats a key/)
    const feb30 = formatDocument({ ...defaultDocumentFields, pendingTime: '2026-02-30T00:00:00Z' })
    expect(await denial(signLikeEc2(feb30, 'rsa2048'))).toMatch(/pendingTime is not a date/)
  })

  it('a PKCS7 signed without signed attributes (EC2 always has them)', async () => {
    const dir = dirname(certs.pkcs7)
    writeFileSync(join(work, 'doc'), document)
    for (const [key, cert, md] of [
      [join(dir, 'dsa.key'), certs.pkcs7, 'sha1'],
      [join(dir, 'rsa.key'), certs.rsa2048, 'sha256'],
    ] as const) {
      const args = ['-in', join(work, 'doc'), '-signer', cert, '-inkey', key, '-nodetach', '-binary', '-outform', 'DER', '-md', md]
      openssl('smime', '-sign', ...args, '-noattr', '-out', join(work, 'noattr.der'))
      expect(await denial(readFileSync(join(work, 'noattr.der')).toString('base64'))).toMatch(/no signed attributes/)
    }
  })

  it('with --max-age, a pendingTime more than 5 minutes in the future', async () => {
    const future = formatDocument({ ...defaultDocumentFields, pendingTime: '2099-01-01T00:00:00Z' })
    const policy = createPolicy({ accounts: [defaultDocumentFields.accountId], maxAge: '30d' })
    expect(await denial(signLikeEc2(future, 'pkcs7'), policy)).toMatch(/pendingTime in the future/)
  })

  it('deny by default: a policy needs accounts or an explicit any', () => {
    expect(() => createPolicy({})).toThrow(/--allow-account/)
    expect(createPolicy({ anyAccount: true }).accounts).toBe('any')
    expect(() => createPolicy({ accounts: ['12'] })).toThrow(/12-digit/)
    expect(() => createPolicy({ accounts: ['123456789012'], maxAge: '3 days' })).toThrow(/duration/)
  })
})

describe('--certs files', () => {
  it('takes a PEM whose lines end in blanks or CRLF, as openssl does', () => {
    const pem = readFileSync(certs.pkcs7, 'utf8')
    expect(parsePemCertificates(pem.replace(/\n/g, ' \r\n'), 'test')).toHaveLength(1)
  })
})

describe('shipped certificates', () => {
  it('every one parses, with the key type of its set, and the main regions are covered', () => {
    const all = shippedCertificates()
    expect(all.length).toBe(43)
    const regions = new Set(all.flatMap((c) => c.regions))
    for (const r of ['*', 'us-east-1', 'us-west-2', 'eu-central-1', 'ap-southeast-2', 'cn-north-1', 'us-gov-west-1'])
      expect(regions).toContain(r)
    for (const { certificate } of all) expect(['dsa', 'rsa']).toContain(certificate.publicKey.asymmetricKeyType)
  })

  it('a region gets its DSA (or the "*" one) and its RSA-2048 certificate', () => {
    const store = createTrustStore()
    expect(store.forRegion('us-west-2').map((k) => k.type)).toEqual(['dsa', 'rsa'])
    expect(store.forRegion('ap-east-1').map((k) => k.type)).toEqual(['dsa', 'rsa'])
    expect(store.forRegion('not a region')).toEqual([])
  })
})
