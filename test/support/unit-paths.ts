// The paths the unit tests of src/systemd render and plan with: an npm install's node and CLI.
export const file = (path: string, directory = path.slice(0, path.lastIndexOf('/')) || '/') => ({ path, directory })
export const paths = {
  node: '/usr/bin/node',
  cli: '/usr/lib/node_modules/iid-docker-auth/bin/iid-docker-auth.cjs',
  configFiles: [file('/root/.docker/config.json')],
}
