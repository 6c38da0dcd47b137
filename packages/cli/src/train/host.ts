/**
 * Reading results back to host memory in the training job. With
 * `--device cuda` every input the job makes is a copy on the GPU and every
 * result of an op or loss stays there; GC frees such memory only whenever it
 * happens to collect the tensor objects, so the job reads what it needs and
 * disposes the tensors at once. On the CPU the same calls change nothing:
 * `data()` is the tensor's own array, which stays valid after `dispose()`
 * (that only drops the tensor's reference to it).
 */
import type { Tensor } from 'pairloss';

/** Disposes each tensor given (undefined ones are skipped). */
export function release(...tensors: (Tensor | undefined)[]): void {
  for (const t of tensors) t?.dispose();
}

/**
 * The elements of `t` in host memory (CUDA: a copy; CPU: its own array), then
 * `t` disposed (CUDA: its device memory freed now).
 */
export function take(t: Tensor): Float32Array {
  try {
    return t.data() as Float32Array;
  } finally {
    t.dispose();
  }
}
