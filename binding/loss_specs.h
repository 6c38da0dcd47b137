// The losses' table: each loss is one row, loss(native name, its inputs,
// its options' field list, its result's field list, its src function), and
// the rows are registered by `Losses` at the end (binding/loss_call.h runs
// them). Each field list is static_assert'ed against lib's key list of the
// same name (binding/generated/native_keys.h). Adding a loss: its two field
// lists, its row, its name in `Losses`.
#pragma once

#include "fields.h"
#include "loss_call.h"
#include "alignment_uniformity.h"
#include "arcface.h"
#include "barlow_twins.h"
#include "dcl.h"
#include "koleo.h"
#include "negative_cosine.h"
#include "npairs.h"
#include "nt_xent.h"
#include "siglip.h"
#include "triplet_margin.h"
#include "vicreg.h"

namespace pairloss_binding {

using pairloss::ArcFaceOptions;
using pairloss::ArcFaceResult;
using pairloss::CorrelationOptions;
using pairloss::CorrelationResult;
using pairloss::NpairsOptions;
using pairloss::NpairsResult;
using pairloss::NtXentOptions;
using pairloss::SigmoidLossResult;
using pairloss::SigmoidOptions;
using pairloss::TripletMarginOptions;
using pairloss::TripletMarginResult;
using pairloss::VicregOptions;
using pairloss::VicregResult;

// ---------- npairsLoss(x1, x2, options, async) ----------
using NpairsArgs = LossArgs<NpairsOptions>;
inline constexpr auto kNpairsOptions = fields(
    field("target", &NpairsOptions::target), field("temperature", &NpairsOptions::temperature),
    field("symmetric", &NpairsOptions::symmetric), field("labelSmoothing", &NpairsOptions::label_smoothing),
    field("reduction", &NpairsOptions::reduction), field("similarity", &NpairsOptions::similarity),
    field("l2Reg", &NpairsOptions::l2_reg), field("eps", &NpairsOptions::eps), field("grad", &NpairsOptions::grad),
    field("returnSimilarity", &NpairsOptions::return_similarity), field("checkFinite", &NpairsOptions::check_finite),
    field("device", &NpairsArgs::device), field("group", &NpairsOptions::group),
    field("localLoss", &NpairsOptions::local_loss), field("gatherWithGrad", &NpairsOptions::gather_with_grad),
    field("labels", &NpairsOptions::labels), field("excludeSelf", &NpairsOptions::exclude_self),
    field("out", &NpairsArgs::out));
static_assert(same_keys(kNpairsOptions, native_keys::npairsLoss));

// also ntXentLoss's result
inline constexpr auto kNpairsResult =
    fields(field("loss", &NpairsResult::loss), field("grad1", &NpairsResult::grad1), field("grad2", &NpairsResult::grad2),
           field("gradTemperature", &NpairsResult::grad_temperature), field("similarity", &NpairsResult::similarity));
static_assert(same_keys(kNpairsResult, native_keys::npairsLoss_result));

inline constexpr auto kNpairsLoss =
    loss("npairsLoss",
         inputs(tensor("x1", "grad1", &NpairsOptions::out_grad1), tensor("x2", "grad2", &NpairsOptions::out_grad2)),
         kNpairsOptions, kNpairsResult, pairloss::npairs_loss);

// ---------- ntXentLoss(z1, z2, options, async) ----------
using NtXentArgs = LossArgs<NtXentOptions>;
inline constexpr auto kNtXentOptions = fields(
    field("temperature", &NtXentOptions::temperature), field("eps", &NtXentOptions::eps),
    field("negatives", &NtXentOptions::negatives), field("grad", &NtXentOptions::grad),
    field("checkFinite", &NtXentOptions::check_finite), field("device", &NtXentArgs::device),
    field("group", &NtXentOptions::group), field("out", &NtXentArgs::out));
static_assert(same_keys(kNtXentOptions, native_keys::ntXentLoss));
static_assert(same_keys(kNpairsResult, native_keys::ntXentLoss_result));

inline constexpr auto kNtXentLoss =
    loss("ntXentLoss",
         inputs(tensor("z1", "grad1", &NtXentOptions::out_grad1), tensor("z2", "grad2", &NtXentOptions::out_grad2)),
         kNtXentOptions, kNpairsResult, pairloss::nt_xent_loss);

// ---------- sigmoidLoss(x1, x2, options, async): SigLIP ----------
using SigmoidArgs = LossArgs<SigmoidOptions>;
inline constexpr auto kSigmoidOptions = fields(
    field("scale", &SigmoidOptions::scale), field("bias", &SigmoidOptions::bias),
    field("target", &SigmoidOptions::target), field("eps", &SigmoidOptions::eps), field("grad", &SigmoidOptions::grad),
    field("checkFinite", &SigmoidOptions::check_finite), field("device", &SigmoidArgs::device),
    field("group", &SigmoidOptions::group), field("out", &SigmoidArgs::out));
static_assert(same_keys(kSigmoidOptions, native_keys::sigmoidLoss));

inline constexpr auto kSigmoidResult = fields(
    field("loss", &SigmoidLossResult::loss), field("grad1", &SigmoidLossResult::grad1),
    field("grad2", &SigmoidLossResult::grad2), field("gradScale", &SigmoidLossResult::grad_scale, kWithGradients),
    field("gradBias", &SigmoidLossResult::grad_bias, kWithGradients));
static_assert(same_keys(kSigmoidResult, native_keys::sigmoidLoss_result));

inline constexpr auto kSigmoidLoss =
    loss("sigmoidLoss",
         inputs(tensor("x1", "grad1", &SigmoidOptions::out_grad1), tensor("x2", "grad2", &SigmoidOptions::out_grad2)),
         kSigmoidOptions, kSigmoidResult, pairloss::sigmoid_loss);

// ---------- vicregLoss(z1, z2, options, async) ----------
using VicregArgs = LossArgs<VicregOptions>;
inline constexpr auto kVicregOptions = fields(
    field("invarianceWeight", &VicregOptions::invariance_weight),
    field("varianceWeight", &VicregOptions::variance_weight),
    field("covarianceWeight", &VicregOptions::covariance_weight), field("gamma", &VicregOptions::gamma),
    field("eps", &VicregOptions::eps), field("grad", &VicregOptions::grad),
    field("checkFinite", &VicregOptions::check_finite), field("device", &VicregArgs::device),
    field("group", &VicregOptions::group), field("out", &VicregArgs::out));
static_assert(same_keys(kVicregOptions, native_keys::vicregLoss));

inline constexpr auto kVicregResult =
    fields(field("loss", &VicregResult::loss), field("invariance", &VicregResult::invariance),
           field("variance", &VicregResult::variance), field("covariance", &VicregResult::covariance),
           field("grad1", &VicregResult::grad1), field("grad2", &VicregResult::grad2));
static_assert(same_keys(kVicregResult, native_keys::vicregLoss_result));

inline constexpr auto kVicregLoss =
    loss("vicregLoss",
         inputs(tensor("z1", "grad1", &VicregOptions::out_grad1), tensor("z2", "grad2", &VicregOptions::out_grad2)),
         kVicregOptions, kVicregResult, pairloss::vicreg_loss);

// ---------- correlationLoss(z1, z2, options, async): Barlow Twins ----------
using CorrelationArgs = LossArgs<CorrelationOptions>;
inline constexpr auto kCorrelationOptions = fields(
    field("lambda", &CorrelationOptions::lambda), field("scale", &CorrelationOptions::scale),
    field("eps", &CorrelationOptions::eps), field("mode", &CorrelationOptions::mode),
    field("grad", &CorrelationOptions::grad), field("checkFinite", &CorrelationOptions::check_finite),
    field("device", &CorrelationArgs::device), field("group", &CorrelationOptions::group),
    field("syncBatchNorm", &CorrelationOptions::sync_batch_norm), field("out", &CorrelationArgs::out));
static_assert(same_keys(kCorrelationOptions, native_keys::correlationLoss));

inline constexpr auto kCorrelationResult =
    fields(field("loss", &CorrelationResult::loss), field("onDiagonal", &CorrelationResult::on_diagonal),
           field("offDiagonal", &CorrelationResult::off_diagonal), field("grad1", &CorrelationResult::grad1),
           field("grad2", &CorrelationResult::grad2));
static_assert(same_keys(kCorrelationResult, native_keys::correlationLoss_result));

inline constexpr auto kCorrelationLoss =
    loss("correlationLoss",
         inputs(tensor("z1", "grad1", &CorrelationOptions::out_grad1),
                tensor("z2", "grad2", &CorrelationOptions::out_grad2)),
         kCorrelationOptions, kCorrelationResult, pairloss::correlation_loss);

// ---------- negativeCosineLoss(x1, x2, options, async): SimSiam / BYOL ----------
using pairloss::NegativeCosineOptions;
using NegativeCosineArgs = LossArgs<NegativeCosineOptions>;
inline constexpr auto kNegativeCosineOptions = fields(
    field("eps", &NegativeCosineOptions::eps), field("grad", &NegativeCosineOptions::grad),
    field("checkFinite", &NegativeCosineOptions::check_finite), field("device", &NegativeCosineArgs::device),
    field("out", &NegativeCosineArgs::out));
static_assert(same_keys(kNegativeCosineOptions, native_keys::negativeCosineLoss));

inline constexpr auto kNegativeCosineResult =
    fields(field("loss", &pairloss::NegativeCosineResult::loss), field("grad1", &pairloss::NegativeCosineResult::grad1),
           field("grad2", &pairloss::NegativeCosineResult::grad2));
static_assert(same_keys(kNegativeCosineResult, native_keys::negativeCosineLoss_result));

inline constexpr auto kNegativeCosineLoss = loss(
    "negativeCosineLoss",
    inputs(tensor("x1", "grad1", &NegativeCosineOptions::out_grad1), tensor("x2", "grad2", &NegativeCosineOptions::out_grad2)),
    kNegativeCosineOptions, kNegativeCosineResult, pairloss::negative_cosine_loss);

// ---------- koleoLoss(x, options, async): KoLeo ----------
using pairloss::KoleoOptions;
using KoleoArgs = LossArgs<KoleoOptions>;
inline constexpr auto kKoleoOptions =
    fields(field("eps", &KoleoOptions::eps), field("grad", &KoleoOptions::grad),
           field("checkFinite", &KoleoOptions::check_finite), field("device", &KoleoArgs::device),
           field("out", &KoleoArgs::out));
static_assert(same_keys(kKoleoOptions, native_keys::koleoLoss));

inline constexpr auto kKoleoResult =
    fields(field("loss", &pairloss::KoleoResult::loss), field("grad", &pairloss::KoleoResult::grad));
static_assert(same_keys(kKoleoResult, native_keys::koleoLoss_result));

inline constexpr auto kKoleoLoss = loss("koleoLoss", inputs(tensor("x", "grad", &KoleoOptions::out_grad)),
                                        kKoleoOptions, kKoleoResult, pairloss::koleo_loss);

// ---------- alignmentUniformityLoss(z1, z2, options, async): Wang & Isola ----------
using pairloss::AlignmentUniformityOptions;
using pairloss::AlignmentUniformityResult;
using AlignmentUniformityArgs = LossArgs<AlignmentUniformityOptions>;
inline constexpr auto kAlignmentUniformityOptions = fields(
    field("t", &AlignmentUniformityOptions::t), field("lambda", &AlignmentUniformityOptions::lambda),
    field("alpha", &AlignmentUniformityOptions::alpha), field("grad", &AlignmentUniformityOptions::grad),
    field("checkFinite", &AlignmentUniformityOptions::check_finite), field("device", &AlignmentUniformityArgs::device),
    field("out", &AlignmentUniformityArgs::out));
static_assert(same_keys(kAlignmentUniformityOptions, native_keys::alignmentUniformityLoss));

inline constexpr auto kAlignmentUniformityResult =
    fields(field("loss", &AlignmentUniformityResult::loss), field("alignment", &AlignmentUniformityResult::alignment),
           field("uniformity", &AlignmentUniformityResult::uniformity), field("grad1", &AlignmentUniformityResult::grad1),
           field("grad2", &AlignmentUniformityResult::grad2));
static_assert(same_keys(kAlignmentUniformityResult, native_keys::alignmentUniformityLoss_result));

inline constexpr auto kAlignmentUniformityLoss =
    loss("alignmentUniformityLoss",
         inputs(tensor("z1", "grad1", &AlignmentUniformityOptions::out_grad1),
                tensor("z2", "grad2", &AlignmentUniformityOptions::out_grad2)),
         kAlignmentUniformityOptions, kAlignmentUniformityResult, pairloss::alignment_uniformity_loss);

// ---------- dclLoss(z1, z2, options, async): DCL and DCLW ----------
using pairloss::DclOptions;
using DclArgs = LossArgs<DclOptions>;
inline constexpr auto kDclOptions = fields(
    field("temperature", &DclOptions::temperature), field("weighted", &DclOptions::weighted),
    field("sigma", &DclOptions::sigma), field("grad", &DclOptions::grad),
    field("checkFinite", &DclOptions::check_finite), field("device", &DclArgs::device),
    field("group", &DclOptions::group), field("out", &DclArgs::out));
static_assert(same_keys(kDclOptions, native_keys::dclLoss));

inline constexpr auto kDclResult = fields(field("loss", &pairloss::DclResult::loss),
                                          field("grad1", &pairloss::DclResult::grad1), field("grad2", &pairloss::DclResult::grad2));
static_assert(same_keys(kDclResult, native_keys::dclLoss_result));

inline constexpr auto kDclLoss =
    loss("dclLoss", inputs(tensor("z1", "grad1", &DclOptions::out_grad1), tensor("z2", "grad2", &DclOptions::out_grad2)),
         kDclOptions, kDclResult, pairloss::dcl_loss);

// ---------- tripletMarginLoss(x, labels, options, async) ----------
using TripletMarginArgs = LossArgs<TripletMarginOptions>;
inline constexpr auto kTripletMarginOptions = fields(
    field("margin", &TripletMarginOptions::margin), field("mining", &TripletMarginOptions::mining),
    field("distance", &TripletMarginOptions::distance), field("grad", &TripletMarginOptions::grad),
    field("checkFinite", &TripletMarginOptions::check_finite), field("device", &TripletMarginArgs::device),
    field("out", &TripletMarginArgs::out));
static_assert(same_keys(kTripletMarginOptions, native_keys::tripletMarginLoss));

inline constexpr auto kTripletMarginResult =
    fields(field("loss", &TripletMarginResult::loss), field("grad", &TripletMarginResult::grad));
static_assert(same_keys(kTripletMarginResult, native_keys::tripletMarginLoss_result));

inline constexpr auto kTripletMarginLoss =
    loss("tripletMarginLoss", inputs(tensor("x", "grad", &TripletMarginOptions::out_grad), index("labels")),
         kTripletMarginOptions, kTripletMarginResult, pairloss::triplet_margin_loss);

// ---------- arcFaceLoss(x, labels, centers, options, async) ----------
using ArcFaceArgs = LossArgs<ArcFaceOptions>;
inline constexpr auto kArcFaceOptions =
    fields(field("margin", &ArcFaceOptions::margin), field("scale", &ArcFaceOptions::scale),
           field("grad", &ArcFaceOptions::grad), field("checkFinite", &ArcFaceOptions::check_finite),
           field("device", &ArcFaceArgs::device), field("out", &ArcFaceArgs::out));
static_assert(same_keys(kArcFaceOptions, native_keys::arcFaceLoss));

inline constexpr auto kArcFaceResult = fields(field("loss", &ArcFaceResult::loss), field("grad", &ArcFaceResult::grad),
                                              field("gradCenters", &ArcFaceResult::grad_centers));
static_assert(same_keys(kArcFaceResult, native_keys::arcFaceLoss_result));

inline constexpr auto kArcFaceLoss =
    loss("arcFaceLoss",
         inputs(tensor("x", "grad", &ArcFaceOptions::out_grad), index("labels"),
                tensor("centers", "gradCenters", &ArcFaceOptions::out_grad_centers)),
         kArcFaceOptions, kArcFaceResult, pairloss::arcface_loss);

// ---------- the table ----------
using Losses = LossTable<kNpairsLoss, kNtXentLoss, kSigmoidLoss, kVicregLoss, kCorrelationLoss,
                         kNegativeCosineLoss, kKoleoLoss, kAlignmentUniformityLoss, kDclLoss,
                         kTripletMarginLoss, kArcFaceLoss>;

}  // namespace pairloss_binding
