using OpenMoE.Training.Data;
using OpenMoE.Model.Network;

namespace OpenMoE.Analysis;

/// <summary>
/// One analysed batch: every token's id, position and labels, with the routing of every MoE layer.
/// Token i sits at position <c>i % T</c> of its row. A label of -1 marks a token that is not document
/// text (BOS and padding); the specialization statistics skip those, the capacity still counts them.
/// </summary>
/// <param name="TokenIds">Input token ids. // [N = B*T]</param>
/// <param name="SequenceLength">T.</param>
/// <param name="DomainIds">Domain label per token, -1 for BOS/padding. // [N]</param>
/// <param name="LanguageIds">Language label per token, -1 for BOS/padding. // [N]</param>
/// <param name="Layers">One entry per MoE layer, in layer order.</param>
public sealed record RoutingBatch(int[] TokenIds, int SequenceLength, int[] DomainIds, int[] LanguageIds, IReadOnlyList<LayerRouting> Layers)
{
    /// <summary>Tokens N.</summary>
    public int Tokens => TokenIds.Length;

    /// <summary>Whether token <paramref name="i"/> is document text (not BOS or padding).</summary>
    public bool IsText(int i) => DomainIds[i] >= 0;

    /// <summary>A batch of the data pipeline and the traces of its forward pass.</summary>
    public static RoutingBatch From(PackedBatch batch, ForwardResult forward) =>
        new(batch.Inputs, batch.Length, batch.DomainIds, batch.LanguageIds, forward.MoeLayers.Select(LayerRouting.FromTrace).ToArray());

    /// <summary>A synthetic batch where every token is text of domain 0 and language 0 (tests, examples).</summary>
    public static RoutingBatch Synthetic(int[] tokenIds, int sequenceLength, params LayerRouting[] layers) =>
        new(tokenIds, sequenceLength, new int[tokenIds.Length], new int[tokenIds.Length], layers);
}
