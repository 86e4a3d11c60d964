// dist/verify.cjs: the registry side in a bundle of its own, so that AWS's certificates and the
// verifier stay out of the boot path's bundle. It is the library (iid-docker-auth/verify) and the
// `verify` command, which the CLI loads only when that command runs.
export * from './verify/index.js'
export { verify } from './commands/verify.js'
