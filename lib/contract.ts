/**
 * The lib ↔ binding contract in one place: the option keys of every native
 * function that takes an options object (lib/options.ts's NATIVE_OPTION_KEYS
 * for the ops and process groups, then each loss's spec in lib/losses/) and
 * each loss's result fields. scripts/gen-native-keys.js writes them to
 * binding/generated/native_keys.h, which the binding's field lists are
 * static_assert'ed against; test/native-keys.test.ts fails when that file is
 * stale, and test/options.test.ts sends every key across and back.
 * Nothing in lib imports this file (it imports the losses). @internal
 */
import { LOSSES } from './losses';
import { NATIVE_OPTION_KEYS as OP_KEYS } from './options';

type Loss = (typeof LOSSES)[number];
type LossName = Loss['spec']['name'];

/** The option keys of every native function: the ops' first, then the losses', each list in order. */
export const NATIVE_OPTION_KEYS = {
  ...OP_KEYS,
  ...Object.fromEntries(LOSSES.map((l) => [l.spec.name, l.nativeKeys])) as { [K in LossName]: readonly string[] },
};

/** A native function that takes an options object. */
export type NativeKind = keyof typeof NATIVE_OPTION_KEYS;

/** Each loss's native result fields, in order (`loss` first). */
export const NATIVE_RESULT_FIELDS = Object.fromEntries(LOSSES.map((l) => [l.spec.name, l.resultFields])) as { [K in LossName]: readonly string[] };
