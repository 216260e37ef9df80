namespace OpenMoE.Analysis;

/// <summary>
/// The measures beyond the paper for one MoE layer of the analysed model on the pre-training mixture
/// (definitions: each measure's own type and docs/analysis-measures.md).
/// </summary>
/// <param name="Layer">Decoder layer index.</param>
/// <param name="NmiTokenId">NMI(top-1 expert; token id), <see cref="MutualInformation"/>.</param>
/// <param name="NmiPosition">NMI(top-1 expert; position).</param>
/// <param name="NmiPreviousToken">NMI(top-1 expert; previous token id).</param>
/// <param name="VocabularyInput">Vocabulary specialisation over input tokens, <see cref="VocabularySpecialization"/>.</param>
/// <param name="VocabularyPredicted">The same over the model's predicted next tokens.</param>
/// <param name="ConsecutiveSameTop1">Adjacent document tokens with the same top-1 expert, <see cref="ConsecutiveExperts"/>.</param>
/// <param name="ConsecutiveSharedTopK">Adjacent document tokens whose top-k sets intersect.</param>
/// <param name="Margin">Top-k margin distribution, <see cref="RouterMargin"/>.</param>
/// <param name="Load">Expert load, <see cref="ExpertLoad"/>.</param>
/// <param name="CoActivation">P(b | a), <see cref="OpenMoE.Analysis.CoActivation"/>. // [E][E]</param>
public sealed record MeasureLayer(
    int Layer, double NmiTokenId, double NmiPosition, double NmiPreviousToken,
    double VocabularyInput, double VocabularyPredicted, double ConsecutiveSameTop1, double ConsecutiveSharedTopK,
    RouterMargin Margin, ExpertLoad Load, double[][] CoActivation)
{
    /// <summary>Every measure of every MoE layer over <paramref name="rows"/>.</summary>
    public static IReadOnlyList<MeasureLayer> Of(IReadOnlyList<RoutingBatch> rows, IReadOnlyList<int> layers, int experts) =>
        layers.Select((layer, m) =>
        {
            var (same, shared) = ConsecutiveExperts.Of(rows, m);
            return new MeasureLayer(layer,
                MutualInformation.Normalized(rows, m, RoutingVariable.TokenId),
                MutualInformation.Normalized(rows, m, RoutingVariable.Position),
                MutualInformation.Normalized(rows, m, RoutingVariable.PreviousToken),
                VocabularySpecialization.Of(rows, m, experts, predicted: false),
                VocabularySpecialization.Of(rows, m, experts, predicted: true),
                same, shared, RouterMargin.Of(rows, m), ExpertLoad.Of(rows, m, experts), OpenMoE.Analysis.CoActivation.Matrix(rows, m, experts));
        }).ToArray();
}
