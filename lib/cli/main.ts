#!/usr/bin/env node
/**
 * The `pairloss` command of the library: `build` (the native addon, in
 * place) and `info` (what loads, and why not). The demo commands `train`,
 * `loss` and `heatmap` live in the workspace package `@pairloss/cli`
 * (packages/cli), which this command hands them to when it is installed.
 * Exit codes: 0 done, 1 a failure, 2 a usage mistake.
 */
import * as fs from 'fs';
import * as path from 'path';
import { packageRoot } from '../loader';
import { runBuild } from './build';
import { runInfo } from './info';

/** The usage line of each of the library's own commands (the first line of its --help). */
const USAGE: Record<string, string> = {
  '': 'Usage: pairloss <command> [flags]',
  build: 'Usage: pairloss build [--quiet]',
  info: 'Usage: pairloss info [--json]',
};

/** The demo CLI's entry, when @pairloss/cli is installed. */
interface DemoCli {
  main(argv: string[]): Promise<number>;
  COMMAND_SUMMARIES: Record<string, string>;
}

function demoCli(): DemoCli | null {
  try {
    const entry = require.resolve('@pairloss/cli', { paths: [process.cwd(), packageRoot()] });
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require(entry) as DemoCli;
  } catch {
    return null;
  }
}

const OWN: Record<string, string> = {
  build: 'build the native addon from source, in place (after installing LibTorch, or to use another one)',
  info: 'show which native addon loads (or why none does), LibTorch, threads, CUDA and Gloo/NCCL',
};

function help(demo: DemoCli | null): string {
  const demoCommands = demo ? demo.COMMAND_SUMMARIES : { 'train, loss, heatmap': 'the demo commands: install @pairloss/cli (packages/cli in the repository)' };
  const all = { ...OWN, ...demoCommands };
  const width = Math.max(...Object.keys(all).map((k) => k.length)) + 2;
  return [
    'pairloss: contrastive (N-pairs / InfoNCE / CLIP) and Barlow Twins losses for Node.js on LibTorch',
    '',
    'Usage: pairloss <command> [flags]',
    '',
    'Commands:',
    ...Object.entries(all).map(([name, summary]) => `  ${name.padEnd(width)}${summary}`),
    '',
    "Run 'pairloss <command> --help' for a command's flags.",
  ].join('\n');
}

/** A usage mistake: one line saying what and what to run, then the usage line; exit code 2. */
function usageError(command: string, message: string): number {
  const hint = command ? `run 'pairloss ${command} --help' for usage` : "run 'pairloss --help' (commands: build, info, train, loss, heatmap)";
  process.stderr.write(`pairloss${command ? ` ${command}` : ''}: ${message}; ${hint}\n${USAGE[command]}\n`);
  return 2;
}

/** Runs the command line on `argv` (without `node` and the script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    if (topic === undefined) {
      process.stdout.write(`${help(demoCli())}\n`);
      return 0;
    }
    return main([topic, '--help']);
  }
  if (first === '--version' || first === '-V') {
    process.stdout.write(`${JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')).version}\n`);
    return 0;
  }
  if (first === 'build') return runBuild(rest, (m) => usageError('build', m));
  if (first === 'info') return runInfo(rest, (m) => usageError('info', m));
  const demo = demoCli();
  if (demo && Object.prototype.hasOwnProperty.call(demo.COMMAND_SUMMARIES, first)) return demo.main(argv);
  if (['train', 'loss', 'heatmap'].includes(first)) {
    process.stderr.write(
      `pairloss ${first}: this command comes with the demo package @pairloss/cli, which is not installed; ` +
        "in the pairloss repository it is the workspace packages/cli ('npm start' runs 'pairloss train')\n",
    );
    return 2;
  }
  return usageError('', first.startsWith('-') ? `expected a command before ${JSON.stringify(first)}` : `unknown command ${JSON.stringify(first)}`);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`pairloss: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
