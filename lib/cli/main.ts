#!/usr/bin/env node
/**
 * The `pairloss` command of the library: `build` (the native addon, in
 * place) and `info` (what loads, and why not); nothing else. The demo's
 * commands are its own package's (`pairloss-demo`, packages/cli).
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

const COMMANDS: Record<string, string> = {
  build: 'build the native addon from source, in place (after installing LibTorch, or to use another one)',
  info: 'show which native addon loads (or why none does), LibTorch, threads, CUDA and Gloo/NCCL',
};

/** The same layout as the demo's `pairloss-demo --help` (packages/cli). */
function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length)) + 2;
  return [
    'pairloss: contrastive and self-supervised losses for Node.js on LibTorch, with PyTorch\'s numbers',
    '',
    USAGE[''],
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, summary]) => `  ${name.padEnd(width)}${summary}`),
    '',
    "Run 'pairloss <command> --help' for a command's flags.",
  ].join('\n');
}

/** A usage mistake: one line saying what and what to run, then the usage line; exit code 2. */
function usageError(command: string, message: string): number {
  const hint = command ? `run 'pairloss ${command} --help' for usage` : `the commands are ${Object.keys(COMMANDS).join(', ')}; run 'pairloss --help'`;
  process.stderr.write(`pairloss${command ? ` ${command}` : ''}: ${message}; ${hint}\n${USAGE[command]}\n`);
  return 2;
}

/** Runs the command line on `argv` (without `node` and the script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    if (topic === undefined) {
      process.stdout.write(`${help()}\n`);
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
