/**
 * What a training run leaves in its output folder: the heatmaps of the fixed
 * held-out batch before and after training (PNG and SVG), the training
 * curves (PNG and SVG) and `summary.json`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeHeatmap } from 'pairloss/heatmap';
import { trainingCurvesSvg, svgToPng } from './plot';
import { describeLoss } from './trainer';
import type { TrainResult } from './trainer';

/** Facts about the run that the trainer does not know. */
export interface RunInfo {
  pairlossVersion: string;
  torchVersion: string;
  threads: number;
  worldSize: number;
  featureDim: number;
  totalPairs: number;
  loadSeconds: number;
  dataset: string;
}

/** The JSON summary of a run (`summary.json`). */
export interface RunSummary {
  pairloss: string;
  torch: string;
  threads: number;
  worldSize: number;
  dataset: { name: string; pairs: number; train: number; heldOut: number; galleryItems: number; featureDim: number };
  config: TrainResult['config'];
  epochs: TrainResult['epochs'];
  final: { recall1: number; recall10: number; chance1: number; chance10: number; meanRank: number };
  heatmapBatch: { words: string[]; pronunciations: string[]; diagonalBefore: number; diagonalAfter: number; offDiagonalAfter: number };
  stepLosses: number[];
  timing: { loadSeconds: number; trainSeconds: number };
  files: string[];
}

function diagonalMeans(m: Float32Array, k: number): { diag: number; off: number } {
  let diag = 0;
  let off = 0;
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) (i === j ? (diag += m[i * k + j]) : (off += m[i * k + j]));
  return { diag: diag / k, off: k > 1 ? off / (k * k - k) : 0 };
}

/** The summary of a finished run. */
export function runSummary(result: TrainResult, info: RunInfo, files: string[]): RunSummary {
  const last = result.epochs[result.epochs.length - 1];
  const k = result.heatmapWords.length;
  const before = diagonalMeans(result.heatmapBefore, k);
  const after = diagonalMeans(result.heatmapAfter, k);
  return {
    pairloss: info.pairlossVersion,
    torch: info.torchVersion,
    threads: info.threads,
    worldSize: info.worldSize,
    dataset: {
      name: info.dataset,
      pairs: info.totalPairs,
      train: result.trainPairs,
      heldOut: result.testPairs,
      galleryItems: result.galleryItems,
      featureDim: info.featureDim,
    },
    config: result.config,
    epochs: result.epochs,
    final: { recall1: last.recall1, recall10: last.recall10, chance1: last.chance1, chance10: last.chance10, meanRank: last.meanRank },
    heatmapBatch: {
      words: result.heatmapWords,
      pronunciations: result.heatmapProns,
      diagonalBefore: before.diag,
      diagonalAfter: after.diag,
      offDiagonalAfter: after.off,
    },
    stepLosses: result.stepLosses,
    timing: { loadSeconds: info.loadSeconds, trainSeconds: result.trainSeconds },
    files,
  };
}

function lossLabel(result: TrainResult): string {
  const c = result.config;
  return describeLoss(c);
}

/**
 * Writes the run's files into `outDir` (created if missing; files of the same names are replaced).
 * @returns the paths written, relative to `outDir`.
 */
export function writeRunOutputs(outDir: string, result: TrainResult, info: RunInfo): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  const k = result.heatmapWords.length;
  const files: string[] = [];
  const heat = (name: string, m: Float32Array, when: string): void => {
    const opts = {
      title: `cosine similarity of ${k} held-out pairs, ${when}`,
      yLabel: 'spelling',
      xLabel: 'pronunciation',
      yTickLabels: result.heatmapWords,
      xTickLabels: result.heatmapProns,
    };
    for (const ext of ['png', 'svg']) {
      writeHeatmap(path.join(outDir, `${name}.${ext}`), { data: m, shape: [k, k] }, opts);
      files.push(`${name}.${ext}`);
    }
  };
  heat('heatmap-before', result.heatmapBefore, 'before training');
  heat('heatmap-after', result.heatmapAfter, `after ${result.config.epochs} epoch${result.config.epochs === 1 ? '' : 's'}`);
  const svg = trainingCurvesSvg({
    stepLosses: result.stepLosses,
    stepsPerEpoch: result.config.epochs > 0 ? result.stepLosses.length / result.config.epochs : 0,
    recall1: result.epochs.map((e) => e.recall1),
    recall10: result.epochs.map((e) => e.recall10),
    chance1: result.epochs[0].chance1,
    chance10: result.epochs[0].chance10,
    title: `training loss (${lossLabel(result)})`,
  });
  fs.writeFileSync(path.join(outDir, 'loss.svg'), svg);
  fs.writeFileSync(path.join(outDir, 'loss.png'), svgToPng(svg));
  files.push('loss.png', 'loss.svg', 'summary.json');
  const summary = runSummary(result, info, files);
  fs.writeFileSync(path.join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return files;
}
