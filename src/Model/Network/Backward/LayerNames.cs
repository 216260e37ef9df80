namespace OpenMoE.Model.Network.Backward;

/// <summary>
/// Workspace names of one decoder layer's saved activations ("L3.attn.q"), built once so that a
/// training step formats no strings.
/// </summary>
internal sealed class LayerNames(int layer)
{
    public string AttentionIn { get; } = $"L{layer}.attn.in";
    public string AttentionNormed { get; } = $"L{layer}.attn.normed";
    public string Query { get; } = $"L{layer}.attn.q";
    public string Key { get; } = $"L{layer}.attn.k";
    public string Value { get; } = $"L{layer}.attn.v";
    public string AttentionOut { get; } = $"L{layer}.attn.o";
    public string Probabilities { get; } = $"L{layer}.attn.p";
    public string FfnIn { get; } = $"L{layer}.ffn.in";
    public string FfnNormed { get; } = $"L{layer}.ffn.normed";
    public FfnNames Dense { get; } = new($"L{layer}.dense");
    public string ExtraIn { get; } = $"L{layer}.extra.in";
    public string ExtraNormed { get; } = $"L{layer}.extra.normed";
    public FfnNames Extra { get; } = new($"L{layer}.extra");
    public string RouterLogits { get; } = $"L{layer}.moe.logits";
    public string RowTokens { get; } = $"L{layer}.moe.row_tokens";
    public string ExpertIn { get; } = $"L{layer}.moe.expert_in";
    public string ExpertOut { get; } = $"L{layer}.moe.expert_out";
    public FfnNames Expert { get; } = new($"L{layer}.moe.expert");
    public FfnNames Shared { get; } = new($"L{layer}.moe.shared");
}

/// <summary>Workspace names of one FFN's saved activations: PREFIX.gate, PREFIX.up, PREFIX.act.</summary>
internal sealed class FfnNames(string prefix)
{
    public string Gate { get; } = prefix + ".gate";
    public string Up { get; } = prefix + ".up";
    public string Act { get; } = prefix + ".act";
}
