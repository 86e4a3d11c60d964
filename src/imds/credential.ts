// The password every client is given (config.json's auth, the helper's Secret, kubelet's password):
// the PKCS7 as IMDS served it, or on one line with --strip-newlines for verifiers that want that.

export const credentialPassword = (signature: string, stripNewlines: boolean): string =>
  stripNewlines ? signature.replace(/[\r\n]/g, '') : signature
