namespace OpenMoE.Model.Network;

/// <summary>
/// Kernel launches of one <see cref="MoeTransformer.Forward"/>, by part of the network, read from the
/// device's one launch counter (<c>KernelCache.Launches</c>, which every launcher of the op layer goes
/// through). GEMM provider calls (SIMD GEMM, cuBLAS), host attention and copies are not kernels of
/// the op layer and are not counted.
/// </summary>
/// <param name="Embedding">Launches of the embedding.</param>
/// <param name="Layers">Launches of each decoder layer, in layer order.</param>
/// <param name="Head">Launches of the final norm and LM head.</param>
public sealed record ForwardLaunches(long Embedding, IReadOnlyList<long> Layers, long Head)
{
    /// <summary>Launches of the whole forward.</summary>
    public long Total => Embedding + Layers.Sum() + Head;
}
