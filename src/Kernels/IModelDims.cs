namespace OpenMoE.Kernels;

/// <summary>
/// Compile-time model dimensions. The source generator emits one struct per model spec;
/// kernels written as <c>Kernel&lt;TDims&gt; where TDims : struct, IModelDims</c> get the
/// sizes folded in as constants by ILGPU (checked on 1.5.3 for CPU and PTX).
/// </summary>
public interface IModelDims
{
    /// <summary>Vocabulary size V.</summary>
    static abstract int Vocab { get; }
    /// <summary>Hidden size D.</summary>
    static abstract int Hidden { get; }
    /// <summary>Attention heads H.</summary>
    static abstract int Heads { get; }
    /// <summary>Key/value heads.</summary>
    static abstract int KvHeads { get; }
    /// <summary>Head dimension hd (H*hd may differ from D).</summary>
    static abstract int HeadDim { get; }
    /// <summary>Dense FFN width F.</summary>
    static abstract int Ffn { get; }
    /// <summary>Routed experts E.</summary>
    static abstract int Experts { get; }
    /// <summary>Experts per token K.</summary>
    static abstract int TopK { get; }
    /// <summary>Width of one routed expert's FFN.</summary>
    static abstract int ExpertFfn { get; }
    /// <summary>Decoder layers.</summary>
    static abstract int Layers { get; }
}
