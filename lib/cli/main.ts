#!/usr/bin/env node
/**
 * The `pairloss` command of the library: `build` (the native addon, in
 * place), `info` (what loads, and why not) and `help`; nothing else. The
 * demo's commands (`train`, `loss`, `heatmap`) are its own package's
 * command, `pairloss-demo` (@pairloss/cli, packages/cli): asked for one of
 * them, this says so and how to run it, and exits 2. Help in the layout of
 * ./help.ts, which the demo uses too. Exit codes: 0 done, 1 a failure, 2 a
 * usage mistake (then the usage line follows the error line).
 */
import * as fs from 'fs';
import * as path from 'path';
import { packageRoot } from '../loader';
import { BUILD_HELP, runBuild } from './build';
import { CommandHelp, ProgramHelp, programHelp, usageLine } from './help';
import { INFO_HELP, runInfo } from './info';

/** The help of `pairloss` itself. */
export const PAIRLOSS_HELP: ProgramHelp = {
  name: 'pairloss',
  tagline: "contrastive and self-supervised losses for Node.js on LibTorch, with PyTorch's numbers",
  commands: [BUILD_HELP, INFO_HELP],
  seeAlso: [['pairloss-demo', "the demo's command, train, loss and heatmap (the package @pairloss/cli): npx -p @pairloss/cli pairloss-demo --help"]],
};

/** The demo's commands: not this command's, named only to say where they are. */
const DEMO_COMMANDS = ['train', 'loss', 'heatmap'];

function command(name: string | undefined): CommandHelp | null {
  return PAIRLOSS_HELP.commands.find((c) => c.name === name) ?? null;
}

/** A usage mistake: one line saying what and what to run, then the usage line; exit code 2. */
function usageError(cmd: CommandHelp | null, message: string, hint?: string): number {
  const where = cmd ? `run 'pairloss ${cmd.name} --help' for usage` : `the commands are ${PAIRLOSS_HELP.commands.map((c) => c.name).join(', ')}; run 'pairloss --help'`;
  process.stderr.write(`pairloss${cmd ? ` ${cmd.name}` : ''}: ${message}; ${hint ?? where}\n${usageLine('pairloss', cmd)}\n`);
  return 2;
}

/**
 * `pairloss train` and the others: whose command it is, and how to run it
 * (the demo's bin through npx, installing @pairloss/cli when the project
 * lacks it; in a checkout of pairloss, the workspace package's dist).
 */
function demoCommand(name: string): number {
  const checkout = `node packages/cli/dist/main.js ${name}`;
  return usageError(
    null,
    `${name} is a command of the demo, pairloss-demo (the package @pairloss/cli), not of the library`,
    `run 'npx -p @pairloss/cli pairloss-demo ${name}', or in a checkout of pairloss ${name === 'train' ? `'npm start' (or '${checkout}')` : `'${checkout}'`}`,
  );
}

/** Runs the command line on `argv` (without `node` and the script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    if (topic === undefined) {
      process.stdout.write(`${programHelp(PAIRLOSS_HELP)}\n`);
      return 0;
    }
    return main([topic, '--help']);
  }
  if (first === '--version' || first === '-V') {
    process.stdout.write(`${JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')).version}\n`);
    return 0;
  }
  if (first === 'build') return runBuild(rest, (m) => usageError(command('build'), m));
  if (first === 'info') return runInfo(rest, (m) => usageError(command('info'), m));
  if (DEMO_COMMANDS.includes(first)) return demoCommand(first);
  return usageError(null, first.startsWith('-') ? `expected a command before ${JSON.stringify(first)}` : `unknown command ${JSON.stringify(first)}`);
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
