using OpenMoE.Training.Data;
using OpenMoE.Model.Network;

namespace OpenMoE.Analysis;

/// <summary>
/// One analysed batch: every token's id, position and labels, the model's predicted next token, with
/// the routing of every MoE layer. Token i sits at position <c>i % T</c> of its row. A label of -1
/// marks a token that is not document text (BOS and padding); the statistics skip those, the
/// capacity still counts them.
/// </summary>
/// <param name="TokenIds">Input token ids. // [N = B*T]</param>
/// <param name="SequenceLength">T.</param>
/// <param name="DomainIds">Domain label per token, -1 for BOS/padding. // [N]</param>
/// <param name="LanguageIds">Language label per token, -1 for BOS/padding. // [N]</param>
/// <param name="Layers">One entry per MoE layer, in layer order.</param>
/// <param name="PredictedIds">The model's most likely next token (argmax of the logits) at each position. // [N]</param>
public sealed record RoutingBatch(int[] TokenIds, int SequenceLength, int[] DomainIds, int[] LanguageIds, IReadOnlyList<LayerRouting> Layers, int[] PredictedIds)
{
    /// <summary>Tokens N.</summary>
    public int Tokens => TokenIds.Length;

    /// <summary>Rows B.</summary>
    public int Rows => Tokens / SequenceLength;

    /// <summary>Whether token <paramref name="i"/> is document text (not BOS or padding).</summary>
    public bool IsText(int i) => DomainIds[i] >= 0;

    /// <summary>Row <paramref name="b"/> alone (its routing as decided for the whole batch): the unit the bootstrap resamples.</summary>
    public RoutingBatch Row(int b)
    {
        int start = b * SequenceLength, end = start + SequenceLength;
        return new(TokenIds[start..end], SequenceLength, DomainIds[start..end], LanguageIds[start..end],
            Layers.Select(l => l.Slice(start, SequenceLength)).ToArray(), PredictedIds[start..end]);
    }

    /// <summary>A batch of the data pipeline (inputs possibly re-ordered, see <see cref="ContextShuffle"/>) and the traces of its forward pass.</summary>
    public static RoutingBatch From(int[] inputs, int sequenceLength, int[] domainIds, int[] languageIds, ForwardResult forward) =>
        new(inputs, sequenceLength, domainIds, languageIds, forward.MoeLayers.Select(LayerRouting.FromTrace).ToArray(), Predictions(forward));

    /// <summary>A batch of the data pipeline and the traces of its forward pass.</summary>
    public static RoutingBatch From(PackedBatch batch, ForwardResult forward) =>
        From(batch.Inputs, batch.Length, batch.DomainIds, batch.LanguageIds, forward);

    /// <summary>A synthetic batch where every token is text of domain 0 and language 0, predicting token 0 (tests, examples).</summary>
    public static RoutingBatch Synthetic(int[] tokenIds, int sequenceLength, params LayerRouting[] layers) =>
        new(tokenIds, sequenceLength, new int[tokenIds.Length], new int[tokenIds.Length], layers, new int[tokenIds.Length]);

    private static int[] Predictions(ForwardResult forward)
    {
        var predicted = new int[forward.Batch * forward.Time];
        for (int b = 0; b < forward.Batch; b++)
        {
            for (int t = 0; t < forward.Time; t++)
            {
                var row = forward.Row(b, t);
                int best = 0;
                for (int v = 1; v < row.Length; v++)
                    best = row[v] > row[best] ? v : best;
                predicted[b * forward.Time + t] = best;
            }
        }
        return predicted;
    }
}
