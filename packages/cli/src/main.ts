#!/usr/bin/env node
/**
 * `pairloss-demo`, the command of the demo package (@pairloss/cli): `train`,
 * `loss`, `heatmap` (the library's own `pairloss` command has `build` and
 * `info`, and sends a user who asks it for these here). Its help is in the
 * library's layout (`pairloss/cli/help`), its text its own. Errors are one
 * line saying what went wrong and what to do, with a non-zero exit code: 2
 * for a usage mistake (then the command's usage line follows), 1 for a
 * failure.
 */
import { ProgramHelp, programHelp } from 'pairloss/cli/help';
import { CliError, CommandSpec, FlagValues, helpText, parseCommand, PROGRAM, stringFlag, usageLine, UsageError } from './args';
import { rerunWithAvx2Kernels } from './blas';
import { HEATMAP_SPEC, runHeatmap } from './heatmap';
import { LOSS_SPEC, runLoss } from './loss';
import { runTrain, TRAIN_SPEC } from './train';

interface Command {
  spec: CommandSpec;
  run(values: FlagValues, positionals: string[]): Promise<void>;
  /** What to check when the library rejects an input. */
  inputHint: string;
}

const COMMANDS: Record<string, Command> = {
  train: { spec: TRAIN_SPEC, run: (v) => runTrain(v), inputHint: `check the flags: '${PROGRAM} train --help'` },
  loss: {
    spec: LOSS_SPEC,
    run: runLoss,
    inputHint: 'x1 and x2 must be [N, D] and [M, D] arrays of one dtype (correlation: both [N, D])',
  },
  heatmap: { spec: HEATMAP_SPEC, run: runHeatmap, inputHint: 'two embedding files must be [N, D] and [M, D] arrays of one dtype' },
};

/** The help of `pairloss-demo` itself. */
export const DEMO_HELP: ProgramHelp = {
  name: PROGRAM,
  tagline: 'the demo of pairloss (contrastive losses for Node.js on LibTorch): train a model, losses and heatmaps of .npy files',
  commands: Object.values(COMMANDS).map((c) => c.spec),
  seeAlso: [['pairloss', "the library's command, build and info (the addon from source, what loads): npx pairloss --help"]],
};

function oneLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).filter((l) => l.length > 0).join(' ');
}

/**
 * Formats an error as the one line printed to stderr, and its exit code; a
 * usage error also gets the command's usage line (not in a spawned rank:
 * the launching process prints it).
 */
export function describeFailure(command: string | null, err: unknown): { line: string; code: number; usage?: string } {
  const worker = process.env.PAIRLOSS_TRAIN_WORKER === '1';
  const rank = worker && process.env.RANK !== undefined ? ` (rank ${process.env.RANK})` : '';
  const prefix = `${PROGRAM}${command ? ` ${command}` : ''}${rank}: `;
  if (err instanceof UsageError) {
    const usage = worker ? undefined : usageLine(command && COMMANDS[command] ? COMMANDS[command].spec : null);
    return { line: `${prefix}${err.message}; ${err.hint}`, code: 2, usage };
  }
  if (err instanceof CliError) return { line: `${prefix}${err.message}; ${err.hint}`, code: 1 };
  const message = err instanceof Error ? err.message : String(err);
  if (message.startsWith('Could not load the pairloss native addon')) {
    const [first, second] = message.split('\n');
    return { line: `${prefix}${first}${second ? ` (${second.trim()})` : ''}; run 'npx pairloss info' for what was tried and what to do`, code: 1 };
  }
  if (err instanceof TypeError || err instanceof RangeError) {
    const hint = command && COMMANDS[command] ? COMMANDS[command].inputHint : `run '${PROGRAM} --help'`;
    return { line: `${prefix}${oneLine(message)}; ${hint}`, code: 1 };
  }
  return { line: `${prefix}${oneLine(message)}; set PAIRLOSS_DEBUG=1 for the stack trace`, code: 1 };
}

/** Runs the CLI on `argv` (without `node` and the script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  let command: string | null = null;
  try {
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      const topic = first === 'help' ? rest[0] : undefined;
      if (topic !== undefined && COMMANDS[topic]) process.stdout.write(`${helpText(COMMANDS[topic].spec)}\n`);
      else process.stdout.write(`${programHelp(DEMO_HELP)}\n`);
      return 0;
    }
    if (first === '--version' || first === '-V') {
      const { version } = await import('pairloss');
      process.stdout.write(`${version}\n`);
      return 0;
    }
    const cmd = COMMANDS[first];
    if (!cmd) {
      throw new UsageError(
        first.startsWith('-') ? `expected a command before ${JSON.stringify(first)}` : `unknown command ${JSON.stringify(first)}`,
        `the commands are ${Object.keys(COMMANDS).join(', ')}; run '${PROGRAM} --help'`,
      );
    }
    command = first;
    const parsed = parseCommand(cmd.spec, rest);
    if (parsed.help) {
      process.stdout.write(`${helpText(cmd.spec)}\n`);
      return 0;
    }
    await cmd.run(parsed.values, parsed.positionals);
    return 0;
  } catch (err) {
    const { line, code, usage } = describeFailure(command, err);
    process.stderr.write(`${line}\n${usage ? `${usage}\n` : ''}`);
    if (process.env.PAIRLOSS_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return code;
  }
}

/**
 * The command line's entry: `train` first asks OpenBLAS which kernels it
 * chose and, where it fell back to its generic ones on an AVX2+FMA CPU, runs
 * itself again with OPENBLAS_CORETYPE=Haswell (blas.ts); then main(). Flag
 * mistakes are left to main() to report.
 */
export async function entry(script: string, argv: string[]): Promise<number> {
  if (argv[0] === 'train') {
    let flag: string | undefined;
    let parsed = false;
    try {
      const p = parseCommand(TRAIN_SPEC, argv.slice(1));
      parsed = !p.help;
      flag = stringFlag(p.values, 'blas-kernels');
    } catch {
      // main() reports it
    }
    if (parsed) {
      try {
        const code = await rerunWithAvx2Kernels(script, argv, flag);
        if (code !== null) return code;
      } catch {
        // a bad --blas-kernels value: main() reports it
      }
    }
  }
  return main(argv);
}

if (require.main === module) {
  entry(__filename, process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${PROGRAM}: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
