#!/usr/bin/env node
'use strict';
const fs = require('fs');
const path = require('path');
const cli = path.join(__dirname, '..', 'build', 'fleet', 'cli.js');
if (!fs.existsSync(cli)) {
  console.error('etcd-fleet: not built yet: run `npm run build` first');
  process.exit(2);
}
require(cli);
