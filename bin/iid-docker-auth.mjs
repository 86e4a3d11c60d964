#!/usr/bin/env node
// Thin launcher: all logic lives in src/ (compiled to dist/).
import '../dist/main.js'
