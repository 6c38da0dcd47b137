/**
 * The render thread's code (a worker_threads Worker that thread.ts starts):
 * builds a heatmap's SVG and renders it with resvg, as heatmapPng does on the
 * calling thread, so the bytes are the same. One job at a time, as posted.
 * @internal
 */
import { parentPort } from 'worker_threads';
import { resolveOptions } from './options';
import { renderPng } from './resvg';
import { buildSvg } from './svg';
import type { RenderJob, RenderReply } from './thread';

/** An error as data: its class by name, message and code (postMessage keeps neither a subclass nor its fields). */
function errorReply(id: number, error: unknown): RenderReply {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { id, error: { name: error.name, message: error.message, code: typeof code === 'string' ? code : undefined } };
  }
  return { id, error: { name: 'Error', message: `the heatmap render thread threw ${String(error)}` } };
}

function run(job: RenderJob): [RenderReply, ArrayBuffer[]] {
  const o = resolveOptions(job.opts, job.rows, job.cols);
  const svg = buildSvg({ rows: job.rows, cols: job.cols, data: job.data }, o);
  if (job.format === 'svg') return [{ id: job.id, svg }, []];
  const png = renderPng(svg, o.scale);
  // resvg's Buffer may be external memory, which cannot be transferred: one copy into an ArrayBuffer that can
  const bytes = new Uint8Array(png.length);
  bytes.set(png);
  return [{ id: job.id, png: bytes }, [bytes.buffer]];
}

const port = parentPort;
if (port) {
  port.on('message', (job: RenderJob) => {
    let reply: RenderReply;
    let transfer: ArrayBuffer[] = [];
    try {
      [reply, transfer] = run(job);
    } catch (error) {
      reply = errorReply(job.id, error);
    }
    port.postMessage(reply, transfer);
  });
}
