using System.Collections.Immutable;

namespace OpenMoE.Model.Specs;

/// <summary>What a parameter tensor is for; the <see cref="ParameterInfo.Name"/> carries the checkpoint spelling.</summary>
public enum ParameterRole
{
    /// <summary>Token embedding [V, D].</summary>
    Embedding = 0,
    /// <summary>Output projection [V, D].</summary>
    LmHead = 1,
    /// <summary>RMSNorm after the last layer [D].</summary>
    FinalNorm = 2,
    /// <summary>RMSNorm before attention [D].</summary>
    AttentionNorm = 3,
    /// <summary>RMSNorm before the FFN or MoE sublayer [D].</summary>
    FfnNorm = 4,
    /// <summary>Query projection [H*hd, D].</summary>
    Query = 5,
    /// <summary>Key projection [kv*hd, D].</summary>
    Key = 6,
    /// <summary>Value projection [kv*hd, D].</summary>
    Value = 7,
    /// <summary>Attention output projection [D, H*hd].</summary>
    AttentionOutput = 8,
    /// <summary>Dense FFN gate ([2F, D] OpenMoE, [F, D] SwiGLU).</summary>
    DenseGate = 9,
    /// <summary>Dense FFN up projection [F, D].</summary>
    DenseUp = 10,
    /// <summary>Dense FFN down projection [D, F].</summary>
    DenseDown = 11,
    /// <summary>Router [E, D].</summary>
    Router = 12,
    /// <summary>Expert gate: OpenMoE stack [E, D, 2F]; per expert [F, D].</summary>
    ExpertGate = 13,
    /// <summary>Expert up projection: OpenMoE stack [E, D, F]; per expert [F, D].</summary>
    ExpertUp = 14,
    /// <summary>Expert down projection: OpenMoE stack [E, F, D]; per expert [D, F].</summary>
    ExpertDown = 15,
    /// <summary>OpenMoE's RMSNorm before the extra FFN [D].</summary>
    ExtraNorm = 16,
    /// <summary>OpenMoE's extra FFN gate [2F, D].</summary>
    ExtraGate = 17,
    /// <summary>OpenMoE's extra FFN up projection [F, D].</summary>
    ExtraUp = 18,
    /// <summary>OpenMoE's extra FFN down projection [D, F].</summary>
    ExtraDown = 19,
    /// <summary>Parallel shared experts' gate, all shared experts fused [S*Fs, D].</summary>
    SharedGate = 20,
    /// <summary>Parallel shared experts' up projection [S*Fs, D].</summary>
    SharedUp = 21,
    /// <summary>Parallel shared experts' down projection [D, S*Fs].</summary>
    SharedDown = 22,
}

/// <summary>One parameter tensor of a model, as a Hugging Face checkpoint stores it.</summary>
/// <param name="Name">Hugging Face tensor name, e.g. "model.layers.3.mlp.experts.wi_gate".</param>
/// <param name="Shape">Shape exactly as the checkpoint stores it (row-major).</param>
/// <param name="Layer">Decoder layer, or -1 for embedding, LM head and final norm.</param>
/// <param name="Role">What the tensor is for.</param>
/// <param name="Expert">Routed expert index, or -1 when the tensor is not per expert (including stacked expert tensors).</param>
public sealed record ParameterInfo(string Name, ImmutableArray<long> Shape, int Layer, ParameterRole Role, int Expert)
{
    /// <summary>Number of scalars in the tensor.</summary>
    public long Elements
    {
        get
        {
            long product = 1;
            foreach (var extent in Shape)
            {
                product *= extent;
            }
            return product;
        }
    }

    /// <summary>Value equality, including the shape's extents (not the array's identity).</summary>
    public bool Equals(ParameterInfo? other) =>
        other is not null && Name == other.Name && Layer == other.Layer && Role == other.Role && Expert == other.Expert
        && Shape.AsSpan().SequenceEqual(other.Shape.AsSpan());

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Name);
        hash.Add(Layer);
        hash.Add(Role);
        hash.Add(Expert);
        foreach (var extent in Shape)
        {
            hash.Add(extent);
        }
        return hash.ToHashCode();
    }
}

/// <summary>Parameter counts a paper published for a model size.</summary>
/// <param name="TotalParams">Published total.</param>
/// <param name="ActivatedParams">Published activated parameters per token.</param>
/// <param name="Source">Where the figures come from.</param>
public sealed record PaperFigures(long TotalParams, long ActivatedParams, string Source);
