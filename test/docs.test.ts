// The documents a user reads: the API reference (docs/api) is what TypeDoc
// generates from the TSDoc today (no drift), every exported name has its
// page there, and the README stays short (measurements live in
// docs/PERFORMANCE.md, written by `npm run bench`).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as pl from '../lib';
import * as heatmap from '../lib/heatmap';
import * as cliHelp from '../lib/cli/help';

const ROOT = path.resolve(__dirname, '..');
const API = path.join(ROOT, 'docs', 'api');

function pages(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? pages(path.join(dir, e.name)) : [path.relative(API, path.join(dir, e.name))]);
}

/** The names a source file exports, types included (`export function|class|interface|type|const NAME`, `export { A, B }`). */
function exportedNames(file: string): string[] {
  const src = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const names = [...src.matchAll(/^export (?:declare )?(?:async )?(?:function|class|interface|type|const|let|enum|namespace) (\w+)/gm)].map((m) => m[1]);
  for (const m of src.matchAll(/^export (?:type )?\{([^}]*)\}/gm)) {
    names.push(...m[1].split(',').map((s) => s.trim().split(/\s+as\s+/).pop()!.replace(/^type\s+/, '')).filter(Boolean));
  }
  return [...new Set(names)];
}

describe('the API reference (docs/api)', () => {
  it('is what `npm run docs` generates from the TSDoc now (scripts/docs-check.js)', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'docs-check.js')], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 300_000);

  it.each([
    ['pairloss', 'lib/index.ts', Object.keys(pl)],
    ['pairloss/heatmap', 'lib/heatmap.ts', Object.keys(heatmap)],
    ['pairloss/tfjs', 'lib/tfjs.ts', []],  // (not loaded here: it needs @tensorflow/tfjs-core)
    ['pairloss/cli/help', 'lib/cli/help.ts', Object.keys(cliHelp)],
  ])('has a page for every name %s exports (values and types)', (_entry, file, runtime) => {
    const names = [...new Set([...runtime, ...exportedNames(file)])].filter((n) => n !== 'default');
    expect(names.length).toBeGreaterThan(3);
    const have = new Set(pages(API).map((p) => path.basename(p, '.md')));
    expect(names.filter((n) => !have.has(n))).toEqual([]);
  });
});

describe('the README', () => {
  it('stays under 400 lines, with the measurements in docs/PERFORMANCE.md between the bench\'s markers', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme.split('\n').length).toBeLessThanOrEqual(400);
    const perf = fs.readFileSync(path.join(ROOT, 'docs', 'PERFORMANCE.md'), 'utf8');
    expect(perf).toMatch(/<!-- bench:begin [^\n]*-->\n```\n# pairloss bench — [\s\S]*\n```\n<!-- bench:end -->/);
  });

  it('links only to files that exist', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(((?!https?:)[^)#]+)(#[^)]*)?\)/g)].map((m) => m[1]);
    expect(links.length).toBeGreaterThan(3);
    expect(links.filter((l) => !fs.existsSync(path.join(ROOT, l)))).toEqual([]);
  });
});
