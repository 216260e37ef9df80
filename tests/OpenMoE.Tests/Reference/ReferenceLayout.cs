using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Reference;

/// <summary>Which published checkpoint layout (tensor names and FFN shape) a config follows.</summary>
public enum ReferenceLayout
{
    /// <summary>OpenMoE: gated FFN of gate width 2F, stacked untransposed expert tensors, optional sequential extra FFN.</summary>
    OpenMoE,
    /// <summary>Mixtral: SwiGLU experts <c>block_sparse_moe.experts.J.w1/w3/w2</c>, no shared expert.</summary>
    Mixtral,
    /// <summary>DeepSeekMoE: SwiGLU experts <c>mlp.experts.J.*_proj</c> plus parallel <c>mlp.shared_experts</c>.</summary>
    DeepSeekMoE,
}

/// <summary>Derives the <see cref="ReferenceLayout"/> of a config from its FFN and shared-expert kinds.</summary>
public static class ReferenceLayouts
{
    /// <summary>The layout, or a <see cref="NotSupportedException"/> naming the unsupported combination.</summary>
    public static ReferenceLayout Of(ModelConfig config) => (config.FfnKind, config.SharedExpertKind) switch
    {
        (FfnKind.OpenMoEGated, SharedExpertKind.SequentialExtraFfn or SharedExpertKind.None) => ReferenceLayout.OpenMoE,
        (FfnKind.SwiGlu, SharedExpertKind.None) => ReferenceLayout.Mixtral,
        (FfnKind.SwiGlu, SharedExpertKind.ParallelShared) => ReferenceLayout.DeepSeekMoE,
        _ => throw new NotSupportedException(
            $"The reference has no checkpoint layout for FfnKind {config.FfnKind} with SharedExpertKind {config.SharedExpertKind}: " +
            "use OpenMoEGated with SequentialExtraFfn/None, or SwiGlu with None (Mixtral) or ParallelShared (DeepSeekMoE)."),
    };
}
