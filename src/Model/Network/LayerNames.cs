namespace OpenMoE.Model.Network;

/// <summary>
/// Workspace names of one decoder layer's intermediates, built once so that a forward formats no
/// strings. A pass that keeps its activations (training, intermediate dumps) uses the
/// layer-scoped names of <see cref="ForLayer"/> ("L3.attn.q", as llama.cpp names its
/// intermediates), so every layer's tensors survive until the backward; inference uses
/// <see cref="SharedScratch"/>, one set of names for all layers, so the layers reuse one set of buffers.
/// </summary>
internal sealed class LayerNames
{
    private LayerNames(string prefix)
    {
        AttentionIn = prefix + "attn.in";
        AttentionNormed = prefix + "attn.normed";
        Query = prefix + "attn.q";
        Key = prefix + "attn.k";
        Value = prefix + "attn.v";
        AttentionOut = prefix + "attn.o";
        Probabilities = prefix + "attn.p";
        FfnIn = prefix + "ffn.in";
        FfnNormed = prefix + "ffn.normed";
        Dense = new FfnNames(prefix + "dense");
        RouterLogits = prefix + "moe.router_logits";
        RouterLossGradient = prefix + "moe.router_loss_grad";
        RowTokens = prefix + "moe.row_tokens";
        ExpertIn = prefix + "moe.expert_in";
        ExpertOut = prefix + "moe.expert_out";
        Returned = prefix + "moe.returned";
        LocalRow = prefix + "moe.local_row";
        Expert = new FfnNames(prefix + "moe.expert");
        Shared = new FfnNames(prefix + "moe.shared");
        ExtraIn = prefix + "extra.in";
        ExtraNormed = prefix + "extra.normed";
        Extra = new FfnNames(prefix + "extra");
        // Forward order; [N, *] tensors whose rows are tokens, so they compare with a reference row by row.
        Intermediates = [AttentionIn, AttentionNormed, Query, Key, Value, AttentionOut, FfnIn, FfnNormed, RouterLogits, ExtraIn, ExtraNormed];
    }

    /// <summary>The names of layer <paramref name="layer"/>'s kept activations.</summary>
    public static LayerNames ForLayer(int layer) => new($"L{layer}.");

    /// <summary>One set of names for every layer: scratch that the next layer overwrites.</summary>
    public static LayerNames SharedScratch { get; } = new("");

    public string AttentionIn { get; }
    public string AttentionNormed { get; }
    public string Query { get; }
    public string Key { get; }
    public string Value { get; }
    public string AttentionOut { get; }
    public string Probabilities { get; }
    public string FfnIn { get; }
    public string FfnNormed { get; }
    public FfnNames Dense { get; }
    public string RouterLogits { get; }
    public string RouterLossGradient { get; }
    public string RowTokens { get; }
    public string ExpertIn { get; }
    public string ExpertOut { get; }
    /// <summary>Expert parallelism: this rank's tokens' expert outputs as they came back, in send order. // [sent, D]</summary>
    public string Returned { get; }
    /// <summary>Expert parallelism: row in <see cref="Returned"/> of each local assignment, -1 dropped. // [n*K]</summary>
    public string LocalRow { get; }
    public FfnNames Expert { get; }
    public FfnNames Shared { get; }
    public string ExtraIn { get; }
    public string ExtraNormed { get; }
    public FfnNames Extra { get; }

    /// <summary>The token-row intermediates in forward order (what a divergence search compares).</summary>
    public IReadOnlyList<string> Intermediates { get; }
}

/// <summary>Workspace names of one FFN's activations: PREFIX.gate, PREFIX.up, PREFIX.act.</summary>
internal sealed class FfnNames(string prefix)
{
    public string Gate { get; } = prefix + ".gate";
    public string Up { get; } = prefix + ".up";
    public string Act { get; } = prefix + ".act";
}
