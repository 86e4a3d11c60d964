#!/usr/bin/env node
// Thin launcher: the whole CLI is one bundled CommonJS file (scripts/build.mjs).
require('../dist/iid-docker-auth.cjs')
