#!/usr/bin/env node
// The Docker credential helper (credHelpers: "iid"): the same bundle as iid-docker-auth, told
// which command it is, since a copy or wrapper may carry any name.
globalThis.iidDockerAuthEntry = 'docker-credential-iid'
require('../dist/iid-docker-auth.cjs')
