/**
 * pairloss: contrastive and self-supervised losses for Node.js on LibTorch,
 * with PyTorch's exact numerics.
 * @packageDocumentation
 */
export { Tensor, tensor } from './tensor';
export type { DType, FloatArray, Indices, TensorLike, OnnxTensorLike, RankOf, ArrayOf } from './tensor';
export { normalize, matmul, matmulAsync, crossEntropy, batchNorm1d, cosineSimilarity } from './ops';
export type { CrossEntropyOptions, MatmulOptions } from './ops';
export type { OutBuffer, GradOut } from './out';
export { csrIndexSelect, csrTensor, CsrTensor, sparseMatmul, sparseMatmulAsync } from './sparse';
export type { CsrLike, CsrIndices, CsrIndexSelectOptions, SparseMatmulOptions } from './sparse';
export { adam, adamAsync, Adam } from './optim';
export type { AdamTensor, AdamOptions, AdamHyperparameters } from './optim';
export { npairsLoss, npairsLossAsync, ntXentLoss, ntXentLossAsync, sigmoidLoss, sigmoidLossAsync, vicregLoss, vicregLossAsync, correlationLoss, correlationLossAsync,
  supConLoss, supConLossAsync, barlowTwinsLoss, barlowTwinsLossAsync } from './losses';
export { negativeCosineLoss, negativeCosineLossAsync, koleoLoss, koleoLossAsync } from './losses';
export type { NegativeCosineOptions, NegativeCosineResult, NegativeCosineGradients, KoleoOptions, KoleoResult } from './losses';
export { alignmentUniformityLoss, alignmentUniformityLossAsync } from './losses';
export type { AlignmentUniformityOptions, AlignmentUniformityResult, AlignmentUniformityGradients } from './losses';
export { dclLoss, dclLossAsync } from './losses';
export type { DclOptions, DclResult, DclGradients } from './losses';
export type {
  NpairsOptions, NpairsResult, NpairsGradients, NtXentOptions, SigmoidOptions, SigmoidResult, SigmoidGradients, VicregOptions, VicregResult, VicregGradients, CorrelationOptions, CorrelationResult, CorrelationGradients, GroupLike,
  Gradients, WithGrad, WithoutGrad, SupConOptions, BarlowTwinsOptions, PairLoss, PairLossAsync, ViewsLoss, ViewsLossAsync,
} from './losses';
export { tripletMarginLoss, tripletMarginLossAsync, arcFaceLoss, arcFaceLossAsync } from './losses';
export type { TripletMarginOptions, TripletMarginResult, TripletMarginGradients, TripletMarginLoss, TripletMarginLossAsync } from './losses';
export type { ArcFaceOptions, ArcFaceResult, ArcFaceGradients, ArcFaceLoss, ArcFaceLossAsync } from './losses';
export { GradCache } from './grad-cache';
export type { GradCacheLoss, GradCacheLosses, GradCacheLossOptions, GradCacheOptions, MicroBatchGradients } from './grad-cache';
export { EmbeddingQueue } from './embedding-queue';
export type { EmbeddingQueueOptions, QueueNpairsOptions } from './embedding-queue';
export { ProcessGroup } from './distributed';
export type { Backend, ReduceOp, ProcessGroupOptions, FromEnvOptions, LaunchInfo } from './distributed';
export { version, torchVersion, cuda, backends, cpuKernels, blasCore, getNumThreads, getBlasThreads, setNumThreads, memoryStats,
  getAsyncConcurrency, setAsyncConcurrency, asyncQueueStats, setAsyncQueueLimit, getAsyncQueueLimit, AsyncQueueFullError } from './runtime';
export type { MemoryStats, CudaMemoryStats } from './runtime';
export { heatmapSvg, heatmapPng, writeHeatmap, heatmapPngAsync, writeHeatmapAsync, readMatrix, colormapColors, HEATMAP_COLORMAPS } from './heatmap';
export type { HeatmapOptions, HeatmapAsyncOptions, HeatmapMatrix, MatrixView, PngBytes, RgbColor } from './heatmap';
