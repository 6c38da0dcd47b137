// Lets a plain `node` child process require lib/*.ts: each file is transpiled
// with TypeScript's transpileModule as it is loaded (no type check; jest's
// ts-jest checks types in the parent), with the output cached in the temp
// folder by path, size and mtime. Used by the multi-process tests:
//   fork(script, args, { execArgv: ['-r', require.resolve('./register-ts')] })
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const cacheDir = path.join(os.tmpdir(), `pairloss-ts-cache-${process.getuid ? process.getuid() : 0}`);
let ts;

require.extensions['.ts'] = function compile(module, filename) {
  const stat = fs.statSync(filename);
  const key = crypto.createHash('sha1').update(`${filename}:${stat.size}:${stat.mtimeMs}`).digest('hex');
  const cached = path.join(cacheDir, `${key}.js`);
  let output;
  try {
    output = fs.readFileSync(cached, 'utf8');
  } catch {
    ts = ts || require('typescript');
    output = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
      fileName: filename,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: true },
    }).outputText;
    try {
      fs.mkdirSync(cacheDir, { recursive: true });
      const tmp = `${cached}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, output);
      fs.renameSync(tmp, cached);
    } catch {
      // a cache we cannot write is only slower
    }
  }
  module._compile(output, filename);
};
