/**
 * Flag parsing for the `pairloss-demo` commands, on `util.parseArgs`, with
 * one-line errors that say what to run instead; their help is printed in the
 * library's layout (`pairloss/cli/help`, which the library's own `pairloss`
 * command prints its help with too).
 */
import { parseArgs } from 'util';
import { commandHelp, CommandHelp, FlagHelp, usageLine as layoutUsageLine } from 'pairloss/cli/help';

/** A usage mistake: printed as one line with a hint, exit code 2. */
export class UsageError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'UsageError';
    this.hint = hint;
  }
}

/** A failure with a known remedy: printed as one line with the hint, exit code 1. */
export class CliError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'CliError';
    this.hint = hint;
  }
}

/** One flag of a command (its help, and whether it takes a value). */
export type FlagSpec = FlagHelp;

/** A command's flags, positionals and help. */
export interface CommandSpec extends CommandHelp {
  /** Allowed number of positional arguments. */
  positionals: { min: number; max: number };
}

/** Parsed flags: strings, booleans, or undefined when not given. */
export type FlagValues = Record<string, string | boolean | undefined>;

/** The demo's command name (its package's bin); the library's own command is `pairloss`. */
export const PROGRAM = 'pairloss-demo';

/** The hint appended to usage errors. */
export function helpHint(command: string): string {
  return `run '${PROGRAM} ${command} --help' for usage`;
}

/**
 * Parses `argv` against `spec` (strict: unknown flags and missing values are errors).
 * @returns `help: true` when -h/--help was given (nothing else is checked then).
 * @throws UsageError naming the flag or argument and pointing at --help.
 */
export function parseCommand(spec: CommandSpec, argv: string[]): { help: boolean; values: FlagValues; positionals: string[] } {
  if (argv.includes('--help') || argv.includes('-h')) return { help: true, values: {}, positionals: [] };
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, f] of Object.entries(spec.flags)) options[name] = f.short ? { type: f.type, short: f.short } : { type: f.type };
  // a negative number after a string flag is its value, not a short flag: --vmin -2
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : null;
    const next = argv[i + 1];
    if (name && spec.flags[name]?.type === 'string' && next !== undefined && /^-\d|^-\.\d|^-Infinity$/.test(next)) {
      args.push(`${argv[i]}=${next}`);
      i++;
    } else {
      args.push(argv[i]);
    }
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true }) as typeof parsed;
  } catch (e) {
    const raw = e instanceof Error ? e.message : String(e);
    // node's messages are multi-line and mention "To specify a positional argument..."
    const first = raw.split('\n')[0].replace(/\. To specify.*$/, '').replace(/^Unknown option '([^']+)'.*$/, "unknown flag '$1'");
    throw new UsageError(first, helpHint(spec.name));
  }
  const { positionals } = parsed;
  if (positionals.length < spec.positionals.min || positionals.length > spec.positionals.max) {
    const want =
      spec.positionals.min === spec.positionals.max
        ? `${spec.positionals.min}`
        : `${spec.positionals.min} to ${spec.positionals.max}`;
    const got = positionals.length === 0 ? 'none' : positionals.map((p) => JSON.stringify(p)).join(' ');
    throw new UsageError(`expected ${want} argument(s) (${spec.usage}), got ${got}`, helpHint(spec.name));
  }
  return { help: false, values: parsed.values as FlagValues, positionals };
}

/** The one-line synopsis of a command, as `--help` starts it; printed under every usage error. */
export function usageLine(spec: CommandSpec | null): string {
  return layoutUsageLine(PROGRAM, spec);
}

/** The `--help` text of a command. */
export function helpText(spec: CommandSpec): string {
  return commandHelp(PROGRAM, spec);
}

function given(values: FlagValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/**
 * An integer flag in [min, max].
 * @throws UsageError when it is not an integer in range.
 */
export function intFlag(cmd: string, values: FlagValues, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const s = given(values, name);
  if (s === undefined) return fallback;
  const v = Number(s);
  if (!/^[+-]?\d+$/.test(s.trim()) || !Number.isSafeInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new UsageError(`--${name} must be an integer ${range}, got ${JSON.stringify(s)}`, helpHint(cmd));
  }
  return v;
}

/**
 * A finite number flag; `above` makes the bound exclusive.
 * @throws UsageError when it is not a finite number in range.
 */
export function numberFlag(
  cmd: string,
  values: FlagValues,
  name: string,
  fallback: number,
  rule: { min?: number; max?: number; above?: boolean } = {},
): number {
  const s = given(values, name);
  if (s === undefined) return fallback;
  const v = Number(s);
  const lowOk = rule.min === undefined || (rule.above ? v > rule.min : v >= rule.min);
  const highOk = rule.max === undefined || v <= rule.max;
  if (s.trim() === '' || !Number.isFinite(v) || !lowOk || !highOk) {
    const parts: string[] = [];
    if (rule.min !== undefined) parts.push(`${rule.above ? '>' : '>='} ${rule.min}`);
    if (rule.max !== undefined) parts.push(`<= ${rule.max}`);
    throw new UsageError(`--${name} must be a number${parts.length ? ` ${parts.join(' and ')}` : ''}, got ${JSON.stringify(s)}`, helpHint(cmd));
  }
  return v;
}

/**
 * A flag taking one of `choices`.
 * @throws UsageError for any other value.
 */
export function enumFlag<T extends string>(cmd: string, values: FlagValues, name: string, choices: readonly T[], fallback: T): T {
  const s = given(values, name);
  if (s === undefined) return fallback;
  if (!(choices as readonly string[]).includes(s)) {
    throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(s)}`, helpHint(cmd));
  }
  return s as T;
}

/** A string flag (or the fallback). */
export function stringFlag(values: FlagValues, name: string, fallback: string): string;
export function stringFlag(values: FlagValues, name: string): string | undefined;
export function stringFlag(values: FlagValues, name: string, fallback?: string): string | undefined {
  return given(values, name) ?? fallback;
}
