// The public types as a user's TypeScript meets them: test/types/ compiled
// with `tsc --strict --noEmit` against the built package (dist/lib/*.d.ts,
// reached through package.json's "exports"), plus the README's example
// type-checked as JavaScript (checkJs, strict) from a scratch project that
// installs the package by a link. `@ts-expect-error` lines in test/types/
// assert what must NOT compile (grad1 with `grad: false`, internal statics…).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkDistFresh, ROOT } from './helpers/child';

const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function tsc(project: string): { status: number | null; out: string } {
  // From the project's folder: tsc names files relative to it.
  const r = spawnSync(process.execPath, [TSC, '-p', project], { cwd: path.dirname(project), encoding: 'utf8', timeout: 240_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The first ```js block of the README section `heading`. */
function readmeBlock(heading: string): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README has no section "${heading}"`);
  return /```js\n([\s\S]*?)```/.exec(readme.slice(at))![1];
}

/** A scratch project with `pairloss` linked into node_modules (as an install would put it), checking `files` as strict JS. */
function scratchProject(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-types-'));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'pairloss'), 'dir');
  fs.symlinkSync(path.join(ROOT, 'node_modules', '@types'), path.join(dir, 'node_modules', '@types'), 'dir');
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, allowJs: true, checkJs: true, target: 'ES2022', lib: ['ES2022'],
      module: 'node16', moduleResolution: 'node16', types: ['node'], skipLibCheck: false,
    },
    files: Object.keys(files),
  }));
  return dir;
}

beforeAll(checkDistFresh);

test('test/types/usage.ts compiles under --strict against dist/lib/*.d.ts (library checks on)', () => {
  const r = tsc(path.join(ROOT, 'test', 'types', 'tsconfig.json'));
  expect(r.out).toBe('');
  expect(r.status).toBe(0);
}, 240_000);

test('test/types/tfjs.ts (pairloss/tfjs with TensorFlow.js) compiles under --strict', () => {
  const r = tsc(path.join(ROOT, 'test', 'types', 'tsconfig.tfjs.json'));
  expect(r.out).toBe('');
  expect(r.status).toBe(0);
}, 240_000);

test("README's example type-checks under --strict as it is (no `!`), and would not with grad: false", () => {
  const example = readmeBlock('## Example');
  expect(example).toContain("require('pairloss')");
  expect(example).toContain('grad1.data()');
  // The control: the same code with grad: false must fail where it reads grad1 (so the check can fail).
  const control = example.replace('symmetric: true }', 'symmetric: true, grad: false }');
  expect(control).not.toBe(example);
  const dir = scratchProject({ 'example.js': example, 'control.js': control });
  try {
    const r = tsc(path.join(dir, 'tsconfig.json'));
    const errors = r.out.split('\n').filter((l) => l.includes('error TS'));
    expect(errors.filter((l) => l.startsWith('example.js'))).toEqual([]);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors).toEqual(errors.filter((l) => l.startsWith('control.js') && /'grad[12]' is possibly 'undefined'/.test(l)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 240_000);
