// Runtime memory introspection: memoryStats() counts native tensor handles
// beside external buffers, and cuda.memoryStats() / cuda.emptyCache() give the
// CUDA caching allocator's view -- a clean RangeError (memoryStats) or nothing
// to do (emptyCache) without a CUDA device, never a native crash. With a GPU
// (PAIRLOSS_TEST_DEVICE=cuda, scripts/gpu-check.sh) the CUDA half runs too.
import * as pl from '../lib';
import { binding } from '../lib/binding';
import { callNative } from '../lib/errors';
import { residentCpu, Tensor } from '../lib/tensor';

const CUDA = pl.cuda.isAvailable();
const onCuda = CUDA ? test : test.skip;
const withoutCuda = CUDA ? test.skip : test;

describe('memoryStats()', () => {
  test('counts native handles: made, freed by dispose, bytes held (host part too)', () => {
    const keys = ['externalBuffers', 'finalizedBuffers', 'externalBytes', 'handles', 'freedHandles', 'handleBytes', 'hostHandleBytes'];
    const start = pl.memoryStats();
    expect(Object.keys(start).sort()).toEqual([...keys].sort());
    for (const k of keys) expect(Number.isInteger((start as unknown as Record<string, number>)[k])).toBe(true);
    const t = residentCpu({ data: new Float64Array(10 * 7), shape: [10, 7] });
    const held = pl.memoryStats();
    expect(held.handles - start.handles).toBe(1);
    expect(held.handleBytes - start.handleBytes).toBe(10 * 7 * 8);
    expect(held.hostHandleBytes - start.hostHandleBytes).toBe(10 * 7 * 8);
    t.dispose();
    const freed = pl.memoryStats();
    expect(freed.freedHandles - held.freedHandles).toBe(1);
    expect([freed.handleBytes, freed.hostHandleBytes]).toEqual([start.handleBytes, start.hostHandleBytes]);
  });
});

describe('cuda.memoryStats(device) and cuda.emptyCache()', () => {
  test('a device that is not a CUDA device: TypeError / RangeError naming device', () => {
    expect(() => pl.cuda.memoryStats('cpu')).toThrow(RangeError);
    expect(() => pl.cuda.memoryStats('cpu')).toThrow(/^device: expected a CUDA device/);
    expect(() => pl.cuda.memoryStats('gpu')).toThrow(RangeError);
    expect(() => pl.cuda.memoryStats(-1)).toThrow(RangeError);
    expect(() => pl.cuda.memoryStats(0.5)).toThrow(/for device/);
    expect(() => pl.cuda.memoryStats(NaN)).toThrow(RangeError);
    expect(() => pl.cuda.memoryStats({} as unknown as string)).toThrow(TypeError);
    expect(() => pl.cuda.memoryStats(null as unknown as string)).toThrow(/device/);
    const missing = pl.cuda.deviceCount();
    expect(() => pl.cuda.memoryStats(missing)).toThrow(RangeError);
    expect(() => pl.cuda.memoryStats(`cuda:${missing}`)).toThrow(/^device: 'cuda:\d+' (does not exist|is not available)/);
  });

  withoutCuda('without a CUDA device: memoryStats is a RangeError that says so; emptyCache does nothing', () => {
    for (const device of [undefined, 'cuda', 'cuda:0', 0]) {
      expect(() => pl.cuda.memoryStats(device)).toThrow(RangeError);
      expect(() => pl.cuda.memoryStats(device)).toThrow(/^device: 'cuda(:0)?' is not available: LibTorch .* has no usable CUDA device/);
    }
    expect(pl.cuda.emptyCache()).toBeUndefined();
    // the native call underneath, past the argument checks: a RangeError too
    // (callNative: the error made in this test's realm)
    expect(() => callNative(() => binding().cudaMemoryStats(0))).toThrow(RangeError);
    expect(() => binding().cudaMemoryStats(0)).toThrow(/CUDA memory statistics need a LibTorch with CUDA|does not exist|CUDA device index/);
    expect(() => binding().cudaEmptyCache()).not.toThrow();
  });

  onCuda('on a GPU: a tensor counts in allocated until dispose(); emptyCache returns cached blocks', () => {
    const before = pl.cuda.memoryStats();
    expect(pl.cuda.memoryStats('cuda')).toEqual(before);
    expect(pl.cuda.memoryStats(0)).toEqual(before);
    const bytes = 1024 * 1024 * 4;
    const t = Tensor.from(new Float32Array(bytes / 4), [1024, 1024], { device: 'cuda' });
    const held = pl.cuda.memoryStats();
    expect(held.allocated - before.allocated).toBeGreaterThanOrEqual(bytes);
    expect(held.peakAllocated).toBeGreaterThanOrEqual(held.allocated);
    expect(held.reserved).toBeGreaterThanOrEqual(held.allocated);
    t.dispose();
    const freed = pl.cuda.memoryStats();
    expect(freed.allocated).toBe(before.allocated);
    pl.cuda.emptyCache();
    expect(pl.cuda.memoryStats().reserved).toBeLessThanOrEqual(freed.reserved);
  });
});

describe('cpuKernels', () => {
  it("names the build this CPU gets: AVX2 with SLEEF's exp where the CPU has AVX2 + FMA and LibTorch loaded libsleef", () => {
    // What the machine offers, read independently of the addon
    const fs = require('fs') as typeof import('fs');
    const flags = process.arch === 'x64' && fs.existsSync('/proc/cpuinfo')
      ? ((/^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8')) ?? [])[1] ?? '').split(/\s+/) : [];
    const avx2 = flags.includes('avx2') && flags.includes('fma');
    const sleef = fs.existsSync('/proc/self/maps') && /libsleef\.so/.test(fs.readFileSync('/proc/self/maps', 'utf8'));
    expect(pl.cpuKernels).toBe(avx2 ? (sleef ? 'avx2+sleef' : 'avx2') : 'baseline');
  });
});
