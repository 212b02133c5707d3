#!/usr/bin/env node
// The floor under a warm `ccrun pull` (bench/pull.sh): the least any Node
// client does to learn whether a tag still names the manifest it had, one
// HEAD of the manifest with Node's http, and nothing else (no CLI, no store,
// no verification). Its time over `node -e 0` is what Node's http stack and
// the request cost before ccrun does any work of its own.
//   node bench/http-floor.js http://127.0.0.1:5000/v2/NAME/manifests/TAG
'use strict';
const http = require('http');
const url = new URL(process.argv[2]);
const accept = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const req = http.request(url, { method: 'HEAD', headers: { Accept: accept } }, (res) => {
  if (res.statusCode !== 200) {
    process.stderr.write(`http-floor: HEAD ${url} answered ${res.statusCode}\n`);
    process.exit(1);
  }
  process.stdout.write(`${res.headers['docker-content-digest'] ?? ''}\n`);
  process.exit(0);
});
req.on('error', (e) => {
  process.stderr.write(`http-floor: ${e.message}\n`);
  process.exit(1);
});
req.end();
