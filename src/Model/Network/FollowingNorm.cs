using ILGPU;

namespace OpenMoE.Model.Network;

/// <summary>
/// The RMSNorm that follows a sublayer's residual add, handed to the sublayer so that it can run in
/// the same launch (OpenMoE's extra-FFN norm after the MoE combine). // weight [D], normed [N, D]
/// </summary>
internal readonly record struct FollowingNorm(ArrayView<float> Weight, ArrayView<float> Normed, float Eps);
