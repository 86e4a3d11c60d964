// The benchmark's floor (scripts/bench.mjs): IMDS through @aws-sdk/ec2-metadata-service exactly as
// src/imds.ts uses it (a token, then both GETs in parallel with it), and nothing else: no options,
// no config file, no lock. Bundled and cached like the CLI. Usage: node <bundle> <endpoint>.
import { MetadataService } from '@aws-sdk/ec2-metadata-service'

const endpoint = process.argv[2]
const fetchIdentity = async () => {
  const tokenClient = new MetadataService({ endpoint, httpOptions: { timeout: 2000 }, retries: 0, ec2MetadataV1Disabled: true, tokenTtl: 60 })
  const token = await tokenClient.fetchMetadataToken()
  const getClient = new MetadataService({ endpoint, httpOptions: { timeout: 2000 }, retries: 0, disableFetchToken: true, ec2MetadataV1Disabled: false })
  const headers = { 'x-aws-ec2-metadata-token': token }
  return Promise.all(['document', 'pkcs7'].map((name) => getClient.request(`latest/dynamic/instance-identity/${name}`, { headers })))
}
fetchIdentity().then(
  ([document, pkcs7]) => process.exit(document.length > 0 && pkcs7.length > 0 ? 0 : 1),
  () => process.exit(1),
)
