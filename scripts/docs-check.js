#!/usr/bin/env node
// The API reference's drift check (`npm run docs:check`, also run by
// test/docs.test.ts): generates the reference from the TSDoc with TypeDoc
// (typedoc.json) into a scratch folder and compares it, file by file, with the
// committed docs/api. Any difference -- a changed page, a new export's page
// not committed, a page whose export is gone -- is drift: it lists the files
// and says to run `npm run docs` and commit docs/api. Exit 0 when they agree.
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const committed = path.join(root, 'docs', 'api');

function files(dir, base = dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p, base) : [path.relative(base, p)];
  }).sort();
}

function main() {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-docs-'));
  try {
    const manifest = require.resolve('typedoc/package.json', { paths: [root] });
    const typedoc = path.join(path.dirname(manifest), require(manifest).bin.typedoc);
    const r = spawnSync(process.execPath, [typedoc, '--out', out], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) {
      process.stderr.write(`docs-check: typedoc failed:\n${r.stdout}${r.stderr}`);
      return 1;
    }
    const fresh = files(out);
    const have = files(committed);
    const drift = [
      ...fresh.filter((f) => !have.includes(f)).map((f) => `missing from docs/api: ${f}`),
      ...have.filter((f) => !fresh.includes(f)).map((f) => `in docs/api but no longer generated: ${f}`),
      ...fresh.filter((f) => have.includes(f) && !fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(committed, f))))
        .map((f) => `differs from the TSDoc: docs/api/${f}`),
    ];
    if (drift.length) {
      process.stderr.write(`docs-check: docs/api is not what the TSDoc generates (${drift.length} file(s)):\n  ${drift.join('\n  ')}\n` +
        'Run `npm run docs` and commit docs/api.\n');
      return 1;
    }
    process.stdout.write(`docs-check: docs/api matches the TSDoc (${fresh.length} files)\n`);
    return 0;
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

process.exitCode = main();
