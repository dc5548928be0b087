#!/usr/bin/env node
// The `flows` CLI: a thin launcher for the bundled runner (build first with `npm run build`).
require('../dist/runner.js');
