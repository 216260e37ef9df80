using ILGPU;
using OpenMoE.Kernels;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Kernels;

namespace OpenMoE.Model.Network;

/// <summary>
/// The network's launches whose sizes the spec fixes (D, V, H, KvH, hd), bound once per network.
/// For a generated spec, <see cref="For"/> dispatches on its <c>Dims</c> struct
/// (<see cref="ModelSpecInfo.Dispatch{TResult}"/>): the <c>&lt;TDims&gt;</c> kernels then run, the sizes
/// folded in as constants (ILGPU inlines them into the PTX). The runtime-size kernels, with the config's
/// sizes, are the fallback (<see cref="ForwardOptions.SizeSpecialised"/> = false) and the reference the
/// specialised forward is tested against. Sizes a run may change (top-k under <c>--routing</c>, N) stay arguments.
/// </summary>
internal abstract class SpecKernels
{
    /// <summary>The kernels of <paramref name="spec"/>: specialised on its dims, or the runtime-size ones.</summary>
    public static SpecKernels For(ModelSpecInfo spec, bool specialised) =>
        specialised ? spec.Dispatch(Specialiser.Instance) : new RuntimeSize(spec.Config);

    /// <summary>Whether these are the <c>&lt;TDims&gt;</c> kernels.</summary>
    public abstract bool Specialised { get; }

    /// <summary>output [N, D] = table [V, D] rows of tokens [N].</summary>
    public abstract void Embedding(KernelOps ops, ArrayView<int> tokens, ArrayView<float> table, ArrayView<float> output, int n);

    /// <summary>y [N, D] = RMSNorm(x [N, D]) * w [D].</summary>
    public abstract void RmsNorm(KernelOps ops, ArrayView<float> x, ArrayView<float> w, ArrayView<float> y, int n, float eps);

    /// <summary>RoPE of q [B, T, H, hd] and k [B, T, KvH, hd] in one launch (the shape's batch, time, offset and theta are read).</summary>
    public abstract void RopeQueryKey(KernelOps ops, ArrayView<float> q, ArrayView<float> k, RopeShape shape);

    /// <summary>Causal attention o [B, Tq, H, hd] from q and the cache k, v [B, S, KvH, hd] (see <c>KernelOps.Attention</c>; the shape's H, KvH and hd are the spec's).</summary>
    public abstract void Attention(KernelOps ops, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, AttentionShape shape);

    /// <summary>residual [N, D] += the MoE combine, then normed [N, D] = RMSNorm(residual) * normWeight [D] (see <c>KernelOps.MoeCombineResidualNorm</c>).</summary>
    public abstract void MoeCombineResidualNorm(KernelOps ops, ArrayView<float> expertOutput, ArrayView<int> tokenRows, ArrayView<float> tokenWeights,
        ArrayView<float> residual, ArrayView<float> normWeight, ArrayView<float> normed, int n, int k, float eps);

    private sealed class Specialiser : IDimsVisitor<SpecKernels>
    {
        public static readonly Specialiser Instance = new();

        public SpecKernels Visit<TDims>() where TDims : struct, IModelDims => new Sized<TDims>();
    }

    private sealed class Sized<TDims> : SpecKernels where TDims : struct, IModelDims
    {
        public override bool Specialised => true;

        public override void Embedding(KernelOps ops, ArrayView<int> tokens, ArrayView<float> table, ArrayView<float> output, int n) =>
            ops.Embedding<TDims>(tokens, table, output, n);

        public override void RmsNorm(KernelOps ops, ArrayView<float> x, ArrayView<float> w, ArrayView<float> y, int n, float eps) =>
            ops.RmsNorm<TDims>(x, w, y, n, eps);

        public override void RopeQueryKey(KernelOps ops, ArrayView<float> q, ArrayView<float> k, RopeShape shape) =>
            ops.RopeQueryKey<TDims>(q, k, shape);

        public override void Attention(KernelOps ops, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, AttentionShape shape) =>
            ops.Attention<TDims>(q, k, v, o, shape);

        public override void MoeCombineResidualNorm(KernelOps ops, ArrayView<float> expertOutput, ArrayView<int> tokenRows, ArrayView<float> tokenWeights,
            ArrayView<float> residual, ArrayView<float> normWeight, ArrayView<float> normed, int n, int k, float eps) =>
            ops.MoeCombineResidualNorm<TDims>(expertOutput, tokenRows, tokenWeights, residual, normWeight, normed, n, k, eps);
    }

    private sealed class RuntimeSize(ModelConfig config) : SpecKernels
    {
        public override bool Specialised => false;

        public override void Embedding(KernelOps ops, ArrayView<int> tokens, ArrayView<float> table, ArrayView<float> output, int n) =>
            ops.Embedding(tokens, table, output, n, config.Hidden, config.Vocab);

        public override void RmsNorm(KernelOps ops, ArrayView<float> x, ArrayView<float> w, ArrayView<float> y, int n, float eps) =>
            ops.RmsNorm(x, w, y, n, config.Hidden, eps);

        public override void RopeQueryKey(KernelOps ops, ArrayView<float> q, ArrayView<float> k, RopeShape shape) =>
            ops.RopeQueryKey(q, k, shape with { Heads = config.Heads, HeadDim = config.HeadDim }, config.KvHeads);

        public override void Attention(KernelOps ops, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, AttentionShape shape) =>
            ops.Attention(q, k, v, o, shape);

        public override void MoeCombineResidualNorm(KernelOps ops, ArrayView<float> expertOutput, ArrayView<int> tokenRows, ArrayView<float> tokenWeights,
            ArrayView<float> residual, ArrayView<float> normWeight, ArrayView<float> normed, int n, int k, float eps) =>
            ops.MoeCombineResidualNorm(expertOutput, tokenRows, tokenWeights, residual, normWeight, normed, n, k, config.Hidden, eps);
    }
}
