// The command lines as a user runs them: the demo's `pairloss-demo` (train,
// loss, heatmap; packages/cli) and the library's `pairloss` (build, info), as
// child processes on small .npy inputs (test/fixtures/npy, made by
// make_fixtures.py with PyTorch), compared with PyTorch's numbers and with the
// library's own output.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import * as pl from '../lib';
import { readNpyMatrix, writeNpy } from '../packages/cli/src/npy';
import { heatmapPng, heatmapSvg } from '../lib/heatmap';
import { commandHelp, ProgramHelp, programHelp } from '../lib/cli/help';
import { PAIRLOSS_HELP } from '../lib/cli/main';
import { DEMO_HELP } from '../packages/cli/src/main';
import { HEATMAP_SPEC } from '../packages/cli/src/heatmap';
import { LOSS_SPEC } from '../packages/cli/src/loss';
import { TRAIN_SPEC } from '../packages/cli/src/train';

const ROOT = path.resolve(__dirname, '..');
/** The library's `pairloss` command (build, info). */
const CLI = path.join(ROOT, 'dist', 'lib', 'cli', 'main.js');
/** The demo package's `pairloss-demo` command (train, loss, heatmap). */
const DEMO = path.join(ROOT, 'packages', 'cli', 'dist', 'main.js');
const LIBRARY_COMMANDS = ['build', 'info'];
const FIX = path.join(ROOT, 'test', 'fixtures', 'npy');
const PYTHON = process.env.PAIRLOSS_PYTHON ?? '/usr/bin/python3';
const TOL = { float32: { rtol: 1e-5, atol: 1e-6 }, float64: { rtol: 1e-10, atol: 1e-10 } };

interface Run { code: number | null; stdout: string; stderr: string }

/** Runs `pairloss` for its own commands (also `help build|info`), else `pairloss-demo`. */
function cli(args: string[], cwd = ROOT): Run {
  const own = LIBRARY_COMMANDS.includes(args[0]) || (args[0] === 'help' && LIBRARY_COMMANDS.includes(args[1]));
  return run(own ? CLI : DEMO, args, cwd);
}

function run(bin: string, args: string[], cwd = ROOT): Run {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 60000, env: { ...process.env, PAIRLOSS_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function fx(name: string): string {
  return path.join(FIX, name);
}


/** Builds what is stale (npm test's setup does this too). */
export function ensureBuilt(): void {
  // scripts/setup.js builds what is stale: the addon, lib/ and the demo CLI package (packages/cli).
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'setup.js'), '--build-only', '--quiet'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0 || !fs.existsSync(CLI) || !fs.existsSync(DEMO)) throw new Error(`could not build the CLI:\n${r.stdout}${r.stderr}`);
}

function expectOneLineError(r: Run, code: number, pattern: RegExp): void {
  expect(r.code).toBe(code);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^pairloss(-demo)?( \w+)?: /);
  expect(lines[0]).toMatch(pattern);
}

const COMMAND_NAMES = ['train', 'loss', 'heatmap', 'info', 'build'];

/** A usage mistake: exit 2, the error line, then the command's usage line exactly as its --help shows it. */
function expectUsageError(r: Run, args: string[], pattern: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(/^pairloss(-demo)?( \w+)?: /);
  expect(lines[0]).toMatch(pattern);
  const command = COMMAND_NAMES.includes(args[0]) ? args[0] : null;
  const usage = command ? cli([command, '--help']).stdout.split('\n').find((l) => l.startsWith('Usage: ')) : 'Usage: pairloss-demo <command> [flags]';
  expect(usage).toBeDefined();
  expect(lines[1]).toBe(usage);
}

/** A float32 .npy file made from rows (the CLI's writer; its files are checked against numpy below). */
function npy(name: string, rows: number[][]): string {
  const file = path.join(tmp, name);
  writeNpy(file, Float32Array.from(rows.flat()), [rows.length, rows[0].length]);
  return file;
}

/** A .npy file's matrix, in this realm's typed arrays (jest runs tests in a separate VM context). */
function load(file: string): { data: Float64Array; shape: number[] } {
  const m = readNpyMatrix(file, 'matrix');
  return { data: Float64Array.from(m.data), shape: [...m.shape] };
}

function close(actual: number, expected: number, tol: { rtol: number; atol: number }): void {
  expect(Number.isFinite(actual)).toBe(true);
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tol.atol + tol.rtol * Math.abs(expected));
}

interface ExpectedCase {
  x1: string;
  x2: string;
  kind: 'npairs' | 'correlation';
  options: { temperature?: number; symmetric?: boolean; mode?: string };
  loss: number;
  grad1Norm: number;
  grad2Norm: number;
  grad1: number[][];
  grad2: number[][];
}
const EXPECTED = JSON.parse(fs.readFileSync(fx('expected.json'), 'utf8')) as { torch: string; cases: Record<string, ExpectedCase> };

function flagsOf(c: ExpectedCase): string[] {
  const f = ['--loss', c.kind];
  if (c.options.temperature !== undefined) f.push('--temperature', String(c.options.temperature));
  if (c.options.symmetric) f.push('--symmetric');
  if (c.options.mode) f.push('--mode', c.options.mode);
  return f;
}

function hasNumpy(): boolean {
  return spawnSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
}

let tmp: string;
beforeAll(() => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-cli-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('pairloss and pairloss-demo (no command) and help', () => {
  it.each([
    ['pairloss', () => CLI, ['build', 'info'], 'pairloss-demo'],
    ['pairloss-demo', () => DEMO, ['train', 'loss', 'heatmap'], 'pairloss'],
  ])('%s prints its own commands, in the one layout, and points at the other command; exits 0', (name, bin, commands, other) => {
    const r = run(bin(), []);
    expect(r.code).toBe(0);
    // sections: a heading line, then rows indented by two, then a blank line
    const section = (heading: string): string[] => {
      const lines = r.stdout.split('\n');
      const at = lines.indexOf(heading);
      expect(at).toBeGreaterThan(0);
      const end = lines.indexOf('', at);
      return lines.slice(at + 1, end < 0 ? undefined : end);
    };
    expect(section('Commands:').map((l) => /^ {2}(\S+) {2,}\S/.exec(l)?.[1])).toEqual(commands);
    expect(section('Flags:').map((l) => /^ {2}(.*\S) {2,}\S/.exec(l)?.[1])).toEqual(['-h, --help', '-V, --version']);
    expect(section('See also:').map((l) => /^ {2}(\S+) {2,}\S/.exec(l)?.[1])).toEqual([other]);
    expect(r.stdout.split('\n').filter((l) => !/^ {2}/.test(l))).toEqual([
      expect.stringMatching(new RegExp(`^${name}: \\S`)), '', `Usage: ${name} <command> [flags]`, '', 'Commands:', '', 'Flags:', '',
      `Run '${name} <command> --help' for a command's flags.`, '', 'See also:', '']);
    expect(run(bin(), ['--help']).stdout).toBe(r.stdout);
  });

  it('pairloss knows only build and info: an unknown command is a usage error naming them', () => {
    const r = run(CLI, ['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("pairloss: unknown command \"frobnicate\"; the commands are build, info; run 'pairloss --help'\nUsage: pairloss <command> [flags]\n");
  });

  it.each([[['train']], [['loss', 'a.npy', 'b.npy']], [['heatmap', '--help']], [['help', 'train']]])(
    'pairloss %j: says it is the demo\'s command and how to run it (exit 2), and that command runs', (args: string[]) => {
      const r = run(CLI, args);
      const name = args[0] === 'help' ? args[1] : args[0];
      expect([r.code, r.stdout]).toEqual([2, '']);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(new RegExp(`^pairloss: ${name} is a command of the demo, pairloss-demo \\(the package @pairloss/cli\\), not of the library; run 'npx -p @pairloss/cli pairloss-demo ${name}', or in a checkout of pairloss `));
      expect(lines[1]).toBe('Usage: pairloss <command> [flags]');
      // what it says to run in a checkout runs that command of the demo (its --help here)
      const checkout = /'(node packages\/cli\/dist\/main\.js \w+)'/.exec(lines[0]);
      expect(checkout?.[1]).toBe(`node packages/cli/dist/main.js ${name}`);
      const [, script, command] = checkout![1].split(' ');
      const demo = run(path.join(ROOT, script), [command, '--help']);
      expect([demo.code, demo.stderr]).toEqual([0, '']);
      expect(demo.stdout).toMatch(new RegExp(`^pairloss-demo ${name}: \\S`));
      if (name === 'train') {
        expect(lines[0]).toContain("'npm start'");
        expect(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.start).toMatch(/&& node packages\/cli\/dist\/main\.js train$/);
      }
    });

  it.each(['train', 'loss', 'heatmap', 'info', 'build'])('%s --help lists its usage and flags', (c) => {
    const r = cli([c, '--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const name = LIBRARY_COMMANDS.includes(c) ? 'pairloss' : 'pairloss-demo';
    expect(r.stdout.split('\n').slice(0, 3)).toEqual([expect.stringMatching(new RegExp(`^${name} ${c}: \\S`)), '', expect.stringMatching(new RegExp(`^Usage: ${name} ${c}`))]);
    expect(r.stdout).toMatch(/^Flags:$/m);
    expect(r.stdout).toMatch(/^ {2}-h, --help/m);
    expect(cli(['help', c]).stdout).toBe(r.stdout);
  });

  it('both print their help through the one layout (lib/cli/help.ts), each with its own text', () => {
    const programs: Array<[string, ProgramHelp]> = [[CLI, PAIRLOSS_HELP], [DEMO, DEMO_HELP]];
    for (const [bin, help] of programs) {
      expect(run(bin, []).stdout).toBe(`${programHelp(help)}\n`);
      for (const c of help.commands) expect(run(bin, [c.name, '--help']).stdout).toBe(`${commandHelp(help.name, c)}\n`);
    }
    expect(DEMO_HELP.commands).toEqual([TRAIN_SPEC, LOSS_SPEC, HEATMAP_SPEC]);
  });

  it('train --help shows the flags of issue 4 with their defaults', () => {
    const out = cli(['train', '--help']).stdout;
    for (const f of ['--loss', '--epochs', '--batch-size', '--dim', '--temperature', '--seed', '--out', '--world-size', '--device']) {
      expect(out).toContain(f);
    }
    expect(out).toMatch(/--out DIR .*\(default: runs\/latest\)/);
  });

  it('--version prints package.json version (the library\'s, for both)', () => {
    for (const bin of [CLI, DEMO]) {
      const r = run(bin, ['--version']);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
    }
  });
});

describe('usage errors: what to do and the usage line, exit code 2', () => {
  it.each([
    [['frobnicate'], /unknown command "frobnicate".*pairloss-demo --help/],
    [['--epochs', '3'], /expected a command before "--epochs"/],
    [['train', '--bogus'], /unknown flag '--bogus'.*pairloss-demo train --help/],
    [['train', '--epochs', 'three'], /--epochs must be an integer in \[0, 10000\], got "three"/],
    [['train', '--batch-size', '1'], /--batch-size must be an integer in \[2, /],
    [['train', '--temperature', '0'], /--temperature must be a number > 0, got "0"/],
    [['train', '--loss', 'hinge'], /--loss must be one of npairs, siglip, supcon, ntxent, vicreg, correlation, dcl, triplet, got "hinge"/],
    [['train', '--loss', 'triplet', '--world-size', '2'], /--loss triplet runs in one process/],
    [['train', '--device', 'tpu'], /--device must be 'cpu', 'cuda' or 'cuda:N'/],
    [['train', 'extra'], /expected 0 argument\(s\)/],
    [['train', '--seed'], /--seed/],
    [['loss', fx('x1_f32.npy')], /expected 2 argument\(s\).*got ".*x1_f32.npy"/],
    [['loss', fx('x1_f32.npy'), fx('x2_f32.npy'), '--loss', 'correlation', '--temperature', '0.1'], /--temperature does not apply to --loss correlation/],
    [['loss', fx('x1_f32.npy'), fx('x2_f32.npy'), '--mode', 'features'], /--mode does not apply to --loss npairs/],
    [['loss', fx('x1_f32.npy'), fx('x2_f32.npy'), '--label-smoothing', '2'], /--label-smoothing must be a number >= 0 and <= 1/],
    [['heatmap'], /expected 1 to 2 argument\(s\)/],
    [['heatmap', fx('similarity.npy'), '-o', 'out.jpg'], /--out must end in \.png or \.svg/],
    [['heatmap', fx('similarity.npy'), '--cmap', 'jet'], /--cmap must be one of .*rocket/],
    [['heatmap', fx('similarity.npy'), '--vmin', '1', '--vmax', '0'], /--vmin must be below --vmax/],
    // refused by the library's own option check, before any file is read; said as the flag, with no other hint
    [['heatmap', fx('similarity.npy'), '--fmt', '%.2f'], /^pairloss-demo heatmap: Expected '\.Nf', '\.Ne', '\.N%' \(N in 0\.\.20\) or 'd' for --fmt but received "%\.2f"; run 'pairloss-demo heatmap --help' for usage$/],
    [['heatmap', fx('missing.npy'), '--fmt', '.21f'], /for --fmt but received "\.21f"/],
    // x1_f32.npy is not a similarity matrix (values beyond [-1, 1]): the top of the range is its largest value, 1.67122
    [['heatmap', fx('x1_f32.npy'), '--vmin', '5', '-o', 'x.png'], /--vmin 5 is not below 1\.67122, the top of the colour range from the data; give --vmax too/],
    [['heatmap', fx('similarity.npy'), '--vmax', '-2', '-o', 'x.png'], /--vmax -2 is not above -1, the bottom of the colour range for a similarity matrix/],
    [['train', '--world-size', '2', '--batch-size', '511'], /--batch-size 511 is not a multiple of --world-size 2; use a batch size divisible by 2, e.g. 512/],
    [['info', 'now'], /^pairloss info: unexpected argument "now"; run 'pairloss info --help' for usage$/],
    [['build', '--fast'], /^pairloss build: unexpected argument "--fast"; run 'pairloss build --help' for usage$/],
  ])('%j', (args, pattern) => {
    const r = cli(args as string[], tmp);
    expectUsageError(r, args as string[], pattern);
    expect(r.stderr).not.toMatch(/embedding files|x1 and x2 must be/);
    expect(fs.existsSync(path.join(tmp, 'x.png'))).toBe(false);
  });
});

describe('pairloss-demo train --out', () => {
  it.each([
    ['a path through a file', (f: string) => path.join(f, 'run'), /ENOTDIR: a part of the path is a file/],
    ['an existing file', (f: string) => f, /EEXIST: it is a file, not a folder/],
  ])('refuses %s at once, before any training', (_what, out, pattern) => {
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, 'not a folder');
    const r = cli(['train', '--out', out(file), '--epochs', '1', '--no-progress']);
    // nothing started: not even the banner that comes before the data is loaded
    expectOneLineError(r, 1, /^pairloss-demo train: --out ".*" cannot be written \(/);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr).toMatch(/nothing was trained; choose another --out folder$/m);
    expect(fs.readFileSync(file, 'utf8')).toBe('not a folder');
  });

  it('creates a new folder and leaves only the run\'s files in it', () => {
    const out = path.join(tmp, 'runs', 'new', 'deep');
    const r = cli(['train', '--out', out, '--epochs', '0', '--max-pairs', '1200', '--test-size', '100', '--no-progress']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['heatmap-after.png', 'heatmap-after.svg', 'heatmap-before.png', 'heatmap-before.svg', 'loss.png', 'loss.svg', 'summary.json']);
  });
});

describe('pairloss-demo loss', () => {
  it.each(Object.keys(EXPECTED.cases))('%s matches PyTorch autograd', (name) => {
    const c = EXPECTED.cases[name];
    const r = cli(['loss', fx(c.x1), fx(c.x2), ...flagsOf(c), '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const dtype = c.x1.includes('f64') ? 'float64' : 'float32';
    expect(out.x1.dtype).toBe(dtype);
    expect(out.kind).toBe(c.kind);
    close(out.loss, c.loss, TOL[dtype]);
    close(out.grad1Norm, c.grad1Norm, TOL[dtype]);
    close(out.grad2Norm, c.grad2Norm, TOL[dtype]);
  });

  // a norm cannot tell a permuted or sign-flipped gradient from the right one: every element
  it.each(Object.keys(EXPECTED.cases))('%s: --grads writes PyTorch autograd\'s gradients, element by element', (name) => {
    const c = EXPECTED.cases[name];
    const dir = path.join(tmp, `grads-elementwise-${name}`);
    const r = cli(['loss', fx(c.x1), fx(c.x2), ...flagsOf(c), '--grads', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const dtype = c.x1.includes('f64') ? 'float64' : 'float32';
    for (const [file, expected] of [['grad1.npy', c.grad1], ['grad2.npy', c.grad2]] as const) {
      const got = load(path.join(dir, file));
      expect(got.shape).toEqual([expected.length, expected[0].length]);
      const off: string[] = [];
      expected.flat().forEach((v, k) => {
        const { atol, rtol } = TOL[dtype];
        if (!(Math.abs(got.data[k] - v) <= atol + rtol * Math.abs(v))) off.push(`${file}[${k}]: ${got.data[k]} vs torch ${v}`);
      });
      expect(off).toEqual([]);
    }
  });

  it('prints the loss and gradient norms as text', () => {
    const c = EXPECTED.cases.npairs_f32_sym_t07;
    const r = cli(['loss', fx(c.x1), fx(c.x2), ...flagsOf(c)]);
    expect(r.code).toBe(0);
    const m = /^npairs loss \(temperature 0\.07, symmetric true, .*\): (\S+)$/m.exec(r.stdout);
    expect(m).not.toBeNull();
    close(Number(m?.[1]), c.loss, TOL.float32);
    const g1 = /\|dloss\/dx1\| = (\S+)/.exec(r.stdout);
    close(Number(g1?.[1]), c.grad1Norm, TOL.float32);
    expect(r.stdout).toMatch(/x1 .*x1_f32\.npy \[6, 5\] float32/);
    expect(r.stdout).toMatch(/dloss\/dtemperature = /);
  });

  it('reads a Fortran-ordered file as the same matrix', () => {
    const c = EXPECTED.cases.npairs_f32;
    const r = cli(['loss', fx('x1_f32_fortran.npy'), fx(c.x2), '--json']);
    expect(r.code).toBe(0);
    close(JSON.parse(r.stdout).loss, c.loss, TOL.float32);
  });

  const withNumpy = hasNumpy() ? it : it.skip;
  withNumpy('--grads writes .npy files numpy reads back as the autograd gradients', () => {
    for (const name of ['npairs_f64_extra', 'correlation_f32_features']) {
      const c = EXPECTED.cases[name];
      const dir = path.join(tmp, `grads-${name}`);
      const r = cli(['loss', fx(c.x1), fx(c.x2), ...flagsOf(c), '--grads', dir]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`wrote ${path.join(dir, 'grad1.npy')}`);
      const py = spawnSync(PYTHON, ['-c',
        'import json, sys, numpy as np; print(json.dumps([[str(a.dtype), list(a.shape), a.tolist()] for a in (np.load(p) for p in sys.argv[1:])]))',
        path.join(dir, 'grad1.npy'), path.join(dir, 'grad2.npy')], { encoding: 'utf8' });
      expect(py.stderr).toBe('');
      const [[dt1, shape1, g1], [, shape2, g2]] = JSON.parse(py.stdout) as Array<[string, number[], number[][]]>;
      const dtype = c.x1.includes('f64') ? 'float64' : 'float32';
      expect(dt1).toBe(dtype);
      expect(shape1).toEqual([c.grad1.length, c.grad1[0].length]);
      expect(shape2).toEqual([c.grad2.length, c.grad2[0].length]);
      c.grad1.forEach((row, i) => row.forEach((v, j) => close(g1[i][j], v, TOL[dtype])));
      c.grad2.forEach((row, i) => row.forEach((v, j) => close(g2[i][j], v, TOL[dtype])));
    }
  });

  it.each([
    [['x1_f32_bigendian.npy', 'x2_f32.npy'], /x1: .* is big-endian \('>f4'\).*astype\('<f4'\)/],
    [['x1_f32.npy', 'ints.npy'], /x2: .* has dtype '<i8', expected float32 or float64; .*astype\(np\.float32\)/],
    [['vector.npy', 'x2_f32.npy'], /x1: .* has shape \(4\), expected a 2-D array; reshape it/],
    [['x1_f32.npy', 'cube.npy'], /x2: .* has shape \(2, 2, 2\), expected a 2-D array/],
    [['truncated.npy', 'x2_f32.npy'], /x1: .* holds 113 data bytes but shape \(6, 5\) needs 120; the file is truncated/],
    [['not_npy.npy', 'x2_f32.npy'], /x1: .* is not a \.npy file/],
    [['missing.npy', 'x2_f32.npy'], /x1: cannot read .*missing\.npy.*ENOENT.*check the path/],
    [['x1_f32.npy', 'x2_f64.npy'], /x2 must have the dtype of x1.*same dtype|dtype.*x1 and x2 must be/],
    [['x1_f32.npy', 'similarity.npy'], /x2.*D|D.*x2/],
  ])('rejects %j with one line and exit 1', (files, pattern) => {
    const [a, b] = files as string[];
    expectOneLineError(cli(['loss', fx(a), fx(b)]), 1, pattern);
  });

  describe('--check-finite', () => {
    const x1 = (): number[][] => load(fx('x1_f32.npy')).data.reduce<number[][]>((rows, v, i) => {
      if (i % 5 === 0) rows.push([]);
      rows[rows.length - 1].push(v);
      return rows;
    }, []);

    it('names the first value that is not finite, with its place, and exits 1', () => {
      const rows = x1();
      rows[2][3] = NaN;
      rows[4][0] = -Infinity;
      const file = npy('x1_nan.npy', rows);
      expectOneLineError(cli(['loss', file, fx('x2_f32.npy'), '--check-finite']), 1,
        /^pairloss-demo loss: x1: ".*x1_nan\.npy" holds NaN at \[2, 3\] \(2 values that are not finite in all\), refused by --check-finite; fix the data, or drop --check-finite/);
      const t = npy('x2_inf.npy', [[1, 2, 3, 4, 5], [0, 0, 0, 0, Infinity], [1, 1, 1, 1, 1], [2, 2, 2, 2, 2], [3, 3, 3, 3, 3], [4, 4, 4, 4, 4]]);
      expectOneLineError(cli(['loss', fx('x1_f32.npy'), t, '--check-finite']), 1, /^pairloss-demo loss: x2: .* holds Infinity at \[1, 4\], refused/);
      // without the flag: PyTorch's answer, NaN
      const r = cli(['loss', file, fx('x2_f32.npy')]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^npairs loss \(.*\): NaN$/m);
    });

    it('refuses a loss that overflows from finite inputs (a temperature too small for float32)', () => {
      expectOneLineError(cli(['loss', fx('x1_f32.npy'), fx('x2_f32.npy'), '--temperature', '1e-300', '--check-finite']), 1,
        // the library's checkFinite refuses it first, naming the option
        /^pairloss-demo loss: temperature: the loss came out NaN from finite inputs \(checkFinite is on\): a temperature this small overflows the logits/);
      expect(cli(['loss', fx('x1_f32.npy'), fx('x2_f32.npy'), '--temperature', '1e-300']).code).toBe(0);
    });

    it('changes nothing for finite inputs', () => {
      const c = EXPECTED.cases.npairs_f32_sym_t07;
      const plain = cli(['loss', fx(c.x1), fx(c.x2), ...flagsOf(c), '--json']);
      const checked = cli(['loss', fx(c.x1), fx(c.x2), ...flagsOf(c), '--json', '--check-finite']);
      expect(checked.code).toBe(0);
      expect(checked.stdout).toBe(plain.stdout);
      close(JSON.parse(checked.stdout).loss, c.loss, TOL.float32);
    });
  });

  it('rejects a correlation pair with different N', () => {
    expectOneLineError(cli(['loss', fx('x1_f64.npy'), fx('x2_f64_extra.npy'), '--loss', 'correlation']), 1, /z2: must have N = 5 rows like z1, got 8/);
  });
});

describe('pairloss-demo heatmap', () => {
  it('draws a .npy matrix as the library draws it (PNG)', () => {
    const out = path.join(tmp, 'sim.png');
    const r = cli(['heatmap', fx('similarity.npy'), '-o', out, '--title', 'identity']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`wrote ${out} (4 x 4, ${fx('similarity.npy')}; colour range [-1, 1])\n`);
    const sim = [[1, 0, 0, -1], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
    const png = fs.readFileSync(out);
    expect(png.equals(heatmapPng(sim, { title: 'identity' }))).toBe(true);
    const decoded = PNG.sync.read(png);
    expect(decoded.width).toBeGreaterThan(100);
    expect(decoded.height).toBeGreaterThan(100);
  });

  it('passes the style flags through (SVG)', () => {
    const out = path.join(tmp, 'nested', 'sim.svg');
    const r = cli(['heatmap', fx('similarity.npy'), '--out', out, '--cmap', 'vlag', '--no-annotate', '--vmin', '-2', '--vmax', '2']);
    expect(r.code).toBe(0);
    const svg = fs.readFileSync(out, 'utf8');
    const sim = [[1, 0, 0, -1], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
    expect(svg).toBe(heatmapSvg(sim, { cmap: 'vlag', annotate: false, vmin: -2, vmax: 2 }));
    expect(svg).not.toBe(heatmapSvg(sim));
  });

  it('draws the cosine similarity of two embedding files', () => {
    const out = path.join(tmp, 'pair.svg');
    const r = cli(['heatmap', fx('x1_f64.npy'), fx('x2_f64_extra.npy'), '-o', out, '--fmt', '.3f']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('(5 x 8, cosine similarity of');
    const read = (f: string): number[][] => {
      const py = spawnSync(PYTHON, ['-c', 'import json,sys,numpy as np; print(json.dumps(np.load(sys.argv[1]).tolist()))', fx(f)], { encoding: 'utf8' });
      return JSON.parse(py.stdout);
    };
    const a = read('x1_f64.npy');
    const b = read('x2_f64_extra.npy');
    const s = pl.cosineSimilarity(pl.Tensor.from(Float64Array.from(a.flat()), [5, 4]), pl.Tensor.from(Float64Array.from(b.flat()), [8, 4]));
    // copied into this realm's Float64Array (jest runs tests in a separate VM context)
    const expected = { data: Float64Array.from(s.data()), shape: [5, 8] };
    expect(fs.readFileSync(out, 'utf8')).toBe(heatmapSvg(expected, { fmt: '.3f' }));
  });

  describe("the colour range: the flags, [-1, 1] for a similarity matrix, else the data's (seaborn without vmin/vmax)", () => {
    const minMax = (d: ArrayLike<number>): [number, number] => [Math.min(...Array.from(d)), Math.max(...Array.from(d))];

    it("a matrix with values beyond [-1, 1] is drawn over its own range, and says so", () => {
      const m = load(fx('x1_f32.npy'));
      const [lo, hi] = minMax(m.data);
      expect(lo < -1 || hi > 1).toBe(true); // the premise: not a similarity matrix
      const out = path.join(tmp, 'data-range.svg');
      const r = cli(['heatmap', fx('x1_f32.npy'), '-o', out]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`wrote ${out} (6 x 5, ${fx('x1_f32.npy')}; colour range [${Number(lo.toPrecision(6))}, ${Number(hi.toPrecision(6))}] (the data's))\n`);
      const svg = fs.readFileSync(out, 'utf8');
      expect(svg).toBe(heatmapSvg(m, { vmin: lo, vmax: hi }));
      expect(svg).not.toBe(heatmapSvg(m)); // the library's default [-1, 1] would saturate it
    });

    it('given --vmin/--vmax, values outside are drawn in the end colours and counted', () => {
      const m = load(fx('x1_f32.npy'));
      const outside = Array.from(m.data).filter((v) => v < -1 || v > 1).length;
      expect(outside).toBeGreaterThan(0);
      const out = path.join(tmp, 'clipped.svg');
      const r = cli(['heatmap', fx('x1_f32.npy'), '-o', out, '--vmin', '-1', '--vmax', '1']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`; colour range \\[-1, 1\\], ${outside} values outside it in the end colours\\)\n$`));
      expect(fs.readFileSync(out, 'utf8')).toBe(heatmapSvg(m, { vmin: -1, vmax: 1 }));
      // one bound given: the other from the data
      const half = cli(['heatmap', fx('x1_f32.npy'), '-o', out, '--vmin', '0']);
      expect(half.stdout).toMatch(/; colour range \[0, [\d.]+\] \(the data's max\), \d+ values outside it/);
      expect(fs.readFileSync(out, 'utf8')).toBe(heatmapSvg(m, { vmin: 0, vmax: minMax(m.data)[1] }));
    });

    it('a similarity matrix keeps [-1, 1] though its values span less; a constant matrix gets ±10%', () => {
      const sim = npy('narrow-sim.npy', [[0.9, 0.1], [-0.2, 0.5]]);
      const out = path.join(tmp, 'narrow.svg');
      expect(cli(['heatmap', sim, '-o', out]).stdout).toMatch(/; colour range \[-1, 1\]\)\n$/);
      expect(fs.readFileSync(out, 'utf8')).toBe(heatmapSvg(load(sim), { vmin: -1, vmax: 1 }));
      const flat = npy('constant.npy', [[5, 5], [5, 5]]);
      expect(cli(['heatmap', flat, '-o', out]).stdout).toMatch(/; colour range \[4\.5, 5\.5\] \(the data's\)\)\n$/);
      expect(fs.readFileSync(out, 'utf8')).toBe(heatmapSvg(load(flat), { vmin: 4.5, vmax: 5.5 }));
    });
  });

  it('reports a file error in one line', () => {
    expectOneLineError(cli(['heatmap', fx('ints.npy'), '-o', path.join(tmp, 'x.png')]), 1, /matrix: .* has dtype '<i8'/);
    expect(fs.existsSync(path.join(tmp, 'x.png'))).toBe(false);
  });
});

describe('pairloss info', () => {
  it('reports which addon loads, the versions, LibTorch, threads, CUDA and backends', () => {
    const r = cli(['info', '--json']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.pairloss).toBe(pl.version);
    expect(info.node).toBe(process.version);
    expect(fs.existsSync(info.addon)).toBe(true);
    expect(info.attempts.find((a: { loaded: boolean }) => a.loaded).path).toBe(info.addon);
    expect(info.solutions).toEqual([]);
    const t = info.runtime;
    expect(t.torchVersion).toBe(pl.torchVersion);
    // the PyTorch oracle (python3-torch) is the same build as the LibTorch linked here
    const oracle = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout.trim();
    expect(oracle.startsWith(t.torchVersion.split('.').slice(0, 2).join('.'))).toBe(true);
    expect(t.threads).toBeGreaterThanOrEqual(1);
    expect(t.cuda.available).toBe(pl.cuda.isAvailable());
    expect(t.cuda.devices).toBe(pl.cuda.deviceCount());
    expect(t.gloo).toBe(pl.backends.gloo);
    expect(t.nccl).toBe(pl.backends.nccl);
    if (process.platform === 'linux') {
      expect(t.libtorchLibraries.some((p: string) => /libtorch(_cpu)?\.so/.test(path.basename(p)))).toBe(true);
      for (const p of t.libtorchLibraries) expect(fs.existsSync(p)).toBe(true);
    }
    const text = cli(['info']).stdout;
    expect(text).toMatch(new RegExp(`^LibTorch +${pl.torchVersion.replace(/\./g, '\\.')}$`, 'm'));
    expect(text).toMatch(/^Gloo +(yes|no)$/m);
    expect(text).toMatch(/^NCCL +(yes|no)$/m);
    expect(text).toMatch(/^CUDA +(available|not available)/m);
    expect(text).toMatch(/^addon +\S+pairloss\.node \((build|prebuild)\): loaded$/m);
  });

  it('runs without a loadable addon and says every path tried, why, and what to do', () => {
    const missing = path.join(tmp, 'nope.node');
    const env = { ...process.env, PAIRLOSS_ADDON: missing };
    const r = spawnSync(process.execPath, [CLI, 'info'], { cwd: ROOT, encoding: 'utf8', env });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`${missing} (PAIRLOSS_ADDON): not there`);
    expect(r.stdout).toMatch(/^platform +linux-x64, Node\.js v\d+/m);
    expect(r.stdout).toMatch(/No native addon loads\. Possible solutions:/);
    expect(r.stdout).toMatch(/npx pairloss build/);
    expect(r.stdout).not.toMatch(/^LibTorch /m);
    const json = JSON.parse(spawnSync(process.execPath, [CLI, 'info', '--json'], { cwd: ROOT, encoding: 'utf8', env }).stdout);
    expect(json.runtime).toBeNull();
    expect(json.attempts).toEqual([{ path: missing, source: 'PAIRLOSS_ADDON', loaded: false, reason: 'not there' }]);
  });

  it('says why a file that is there does not load', () => {
    const bogus = path.join(tmp, 'bogus.node');
    fs.writeFileSync(bogus, 'not an ELF file');
    const r = spawnSync(process.execPath, [CLI, 'info', '--json'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PAIRLOSS_ADDON: bogus } });
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout).attempts[0].reason).toMatch(/invalid ELF header|file too short/);
  });
});
