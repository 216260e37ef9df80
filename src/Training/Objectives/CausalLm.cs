using OpenMoE.Training.Tokenization;

namespace OpenMoE.Training.Objectives;

/// <summary>
/// Plain next-token prediction: every token is a target. Documents flow across packed rows; EOS
/// is appended where a document ends.
/// </summary>
public sealed class CausalLm(ITokenizer tokenizer) : IExampleTransform, IObjective
{
    /// <inheritdoc cref="IExampleTransform.Name"/>
    public string Name => "causal";

    /// <inheritdoc/>
    public int MinRawLength => 0;

    /// <inheritdoc/>
    public int OutputLength(int rawLength, bool endsDocument) => rawLength + (endsDocument ? 1 : 0);

    /// <inheritdoc/>
    public TrainingExample Apply(ReadOnlySpan<int> raw, bool endsDocument, DataRng rng) =>
        new([], endsDocument ? [.. raw, tokenizer.EosId] : raw.ToArray(), Name);

    /// <inheritdoc/>
    public IExampleTransform Next(DataRng rng) => this;
}
