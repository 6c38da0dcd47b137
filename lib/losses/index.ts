/**
 * The losses, value and gradient in one call, one file each: N-pairs /
 * InfoNCE / CLIP (./npairs.ts) and its SupCon preset (./supcon.ts), NT-Xent
 * (./nt-xent.ts), SigLIP (./siglip.ts), VICReg (./vicreg.ts) and Barlow Twins
 * (./barlow-twins.ts: correlationLoss and its paper preset barlowTwinsLoss),
 * SimSiam/BYOL's negative cosine (./negative-cosine.ts), KoLeo (./koleo.ts),
 * Wang & Isola's alignment–uniformity (./alignment-uniformity.ts),
 * DCL and DCLW (./dcl.ts),
 * the triplet margin loss (./triplet-margin.ts) and ArcFace (./arcface.ts).
 * Each is declared once as a spec (./define.ts); ./common.ts holds the types
 * they share.
 */
export type { GroupLike, Gradients, WithGrad, WithoutGrad, PairLoss, PairLossAsync, ViewsLoss, ViewsLossAsync } from './common';
export { npairsLoss, npairsLossAsync } from './npairs';
export type { NpairsOptions, NpairsResult, NpairsGradients } from './npairs';
export { supConLoss, supConLossAsync } from './supcon';
export type { SupConOptions } from './supcon';
export { ntXentLoss, ntXentLossAsync } from './nt-xent';
export type { NtXentOptions } from './nt-xent';
export { sigmoidLoss, sigmoidLossAsync } from './siglip';
export type { SigmoidOptions, SigmoidResult, SigmoidGradients } from './siglip';
export { vicregLoss, vicregLossAsync } from './vicreg';
export type { VicregOptions, VicregResult, VicregGradients } from './vicreg';
export { correlationLoss, correlationLossAsync, barlowTwinsLoss, barlowTwinsLossAsync } from './barlow-twins';
export type { CorrelationOptions, CorrelationResult, CorrelationGradients, BarlowTwinsOptions } from './barlow-twins';
export { negativeCosineLoss, negativeCosineLossAsync } from './negative-cosine';
export type { NegativeCosineOptions, NegativeCosineResult, NegativeCosineGradients } from './negative-cosine';
export { koleoLoss, koleoLossAsync } from './koleo';
export type { KoleoOptions, KoleoResult } from './koleo';
export { alignmentUniformityLoss, alignmentUniformityLossAsync } from './alignment-uniformity';
export type { AlignmentUniformityOptions, AlignmentUniformityResult, AlignmentUniformityGradients } from './alignment-uniformity';
export { dclLoss, dclLossAsync } from './dcl';
export type { DclOptions, DclResult, DclGradients } from './dcl';
export { tripletMarginLoss, tripletMarginLossAsync } from './triplet-margin';
export type { TripletMarginOptions, TripletMarginResult, TripletMarginGradients, TripletMarginLoss, TripletMarginLossAsync } from './triplet-margin';
export { arcFaceLoss, arcFaceLossAsync } from './arcface';
export type { ArcFaceOptions, ArcFaceResult, ArcFaceGradients, ArcFaceLoss, ArcFaceLossAsync } from './arcface';

import { alignmentUniformity } from './alignment-uniformity';
import { correlation } from './barlow-twins';
import { dcl } from './dcl';
import { koleo } from './koleo';
import { negativeCosine } from './negative-cosine';
import { npairs } from './npairs';
import { ntXent } from './nt-xent';
import { siglip } from './siglip';
import { tripletMargin } from './triplet-margin';
import { arcFace } from './arcface';
import { vicreg } from './vicreg';

/** Every loss's spec, in the native contract's order (lib/contract.ts). @internal */
export const LOSSES = [npairs, ntXent, siglip, vicreg, correlation, negativeCosine, koleo, alignmentUniformity, dcl, tripletMargin, arcFace] as const;
