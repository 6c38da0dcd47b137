// binding/generated/native_keys.h, the key lists the binding static_asserts
// its options and result field lists against, is what
// scripts/gen-native-keys.js writes from lib's contract now (lib/contract.ts):
// a key or a result field added, renamed or moved in lib without
// regenerating the header fails here (and then the binding's build).
import * as fs from 'fs';
import { NATIVE_OPTION_KEYS, NATIVE_RESULT_FIELDS } from '../lib/contract';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { render, OUT } = require('../scripts/gen-native-keys.js');

describe('binding/generated/native_keys.h', () => {
  it('is what `node scripts/gen-native-keys.js` writes from lib now (after `npm run build:ts`)', () => {
    expect(fs.readFileSync(OUT, 'utf8')).toBe(render(NATIVE_OPTION_KEYS, NATIVE_RESULT_FIELDS));
  });

  it('has one options array per native function and one result array per loss, in lib\'s order', () => {
    const text = render(NATIVE_OPTION_KEYS, NATIVE_RESULT_FIELDS) as string;
    const names = [...text.matchAll(/std::string_view, (\d+)> (\w+) = \{([^}]*)\};/g)].map((m) => [m[2], Number(m[1]), m[3].split(', ').length]);
    expect(names.map(([n]) => n)).toEqual([...Object.keys(NATIVE_OPTION_KEYS), ...Object.keys(NATIVE_RESULT_FIELDS).map((l) => `${l}_result`)]);
    for (const [name, size, count] of names) expect({ name, size }).toEqual({ name, size: count });
    expect(NATIVE_OPTION_KEYS.npairsLoss).toEqual([
      'target', 'temperature', 'symmetric', 'labelSmoothing', 'reduction', 'similarity', 'l2Reg', 'eps', 'grad',
      'returnSimilarity', 'checkFinite', 'device', 'group', 'localLoss', 'gatherWithGrad', 'labels', 'excludeSelf', 'out',
    ]);
    expect(NATIVE_RESULT_FIELDS.npairsLoss).toEqual(['loss', 'grad1', 'grad2', 'gradTemperature', 'similarity']);
  });

  it('a changed key list gives another header (the check can fail)', () => {
    const changed = { ...NATIVE_OPTION_KEYS, normalize: ['p', 'dim', 'eps'] };
    expect(render(changed, NATIVE_RESULT_FIELDS)).not.toBe(fs.readFileSync(OUT, 'utf8'));
  });
});
