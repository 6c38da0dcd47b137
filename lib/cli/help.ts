/**
 * The one help layout of pairloss's commands (the subpath `pairloss/cli/help`):
 * the library's `pairloss` (build, info) and the demo's
 * `pairloss-demo` (train, loss, heatmap; packages/cli) both describe their
 * commands as {@link CommandHelp} and print them with these functions, so
 * that `--help`, `<command> --help` and the usage line under a usage error
 * look the same in both. Each command's text stays in its own package.
 *
 * A program's help:
 * ```
 * NAME: TAGLINE
 *
 * Usage: NAME <command> [flags]
 *
 * Commands:
 *   COMMAND  SUMMARY
 *
 * Flags:
 *   -h, --help     show this help and exit
 *   -V, --version  print the version and exit
 *
 * Run 'NAME <command> --help' for a command's flags.
 *
 * See also:
 *   OTHER  WHAT IT IS
 * ```
 * A command's help: `NAME COMMAND: SUMMARY`, its usage line, its details,
 * `Flags:` (every flag with its value name and default, `-h, --help` last)
 * and `Examples:`.
 * @packageDocumentation
 */

/** One flag of a command, as its help shows it. */
export interface FlagHelp {
  /** `'string'` takes a value (`--name VALUE`); `'boolean'` takes none. */
  type: 'string' | 'boolean';
  /** One-letter alias, shown as `-x, --name`. */
  short?: string;
  /** Name of the value in the help text, e.g. `N` (default `VALUE`). */
  value?: string;
  description: string;
  /** Shown as "(default: ...)" after the description. */
  defaultText?: string;
}

/** A command's help: its name, what it does, its synopsis, flags and examples. */
export interface CommandHelp {
  /** The command's name, e.g. `info`. */
  name: string;
  /** One line: what it does (the program's command list shows it too). */
  summary: string;
  /** The synopsis after `NAME COMMAND`, e.g. `[--json]`. */
  usage: string;
  /** Lines of prose between the usage line and the flags. */
  details?: string[];
  /** The flags by long name (without `--`); `-h, --help` is added. */
  flags: Record<string, FlagHelp>;
  /** Whole command lines, one per example. */
  examples?: string[];
}

/** A program's help: its name, one line about it, its commands in the order listed, and where to look next. */
export interface ProgramHelp {
  /** The command's name as typed, e.g. `pairloss`. */
  name: string;
  /** One line after `NAME: `. */
  tagline: string;
  commands: readonly CommandHelp[];
  /** Rows under "See also:": another command's name, and what it is and how to reach it. */
  seeAlso?: ReadonlyArray<readonly [string, string]>;
}

const HELP_FLAG: FlagHelp = { type: 'boolean', short: 'h', description: 'show this help and exit' };

/** The flags every program takes without a command. */
const PROGRAM_FLAGS: Record<string, FlagHelp> = {
  help: HELP_FLAG,
  version: { type: 'boolean', short: 'V', description: 'print the version and exit' },
};

/**
 * The one-line synopsis that `--help` shows under its first line, and that
 * follows every usage error: of `command`, or of the program when null.
 */
export function usageLine(program: string, command: CommandHelp | null): string {
  return command ? `Usage: ${program} ${command.name} ${command.usage}` : `Usage: ${program} <command> [flags]`;
}

/** Rows of two columns, the second aligned two spaces after the widest first, indented by two. */
function table(rows: ReadonlyArray<readonly [string, string]>): string[] {
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`);
}

/** Flags as rows: `-x, --name VALUE` and the description with its default. */
function flagRows(flags: Record<string, FlagHelp>): Array<readonly [string, string]> {
  return Object.entries(flags).map(([name, f]) => [
    `${f.short ? `-${f.short}, ` : '    '}--${name}${f.type === 'string' ? ` ${f.value ?? 'VALUE'}` : ''}`,
    `${f.description}${f.defaultText !== undefined ? ` (default: ${f.defaultText})` : ''}`,
  ] as const);
}

/** The `--help` text of a program: its commands, its own flags, where to read the commands' flags, and where to look next. */
export function programHelp(program: ProgramHelp): string {
  const lines = [
    `${program.name}: ${program.tagline}`,
    '',
    usageLine(program.name, null),
    '',
    'Commands:',
    ...table(program.commands.map((c) => [c.name, c.summary] as const)),
    '',
    'Flags:',
    ...table(flagRows(PROGRAM_FLAGS)),
    '',
    `Run '${program.name} <command> --help' for a command's flags.`,
  ];
  if (program.seeAlso?.length) lines.push('', 'See also:', ...table(program.seeAlso));
  return lines.join('\n');
}

/** The `--help` text of one command of `program`. */
export function commandHelp(program: string, command: CommandHelp): string {
  const lines = [`${program} ${command.name}: ${command.summary}`, '', usageLine(program, command)];
  if (command.details?.length) lines.push('', ...command.details);
  lines.push('', 'Flags:', ...table(flagRows({ ...command.flags, help: HELP_FLAG })));
  if (command.examples?.length) lines.push('', 'Examples:', ...command.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}
