namespace OpenMoE.Training.Data;

/// <summary>
/// One training batch of fixed-length rows. Row b is the token stream
/// <c>s = [BOS, example tokens..., pad...]</c> of length T+1; <c>Inputs = s[0..T)</c>,
/// <c>Labels = s[1..T]</c> (the next token), and the loss is taken where <c>LossMask</c> is 1.
/// All arrays are row-major <c>[B, T]</c>.
/// </summary>
public sealed class PackedBatch
{
    internal PackedBatch(int batch, int length, IReadOnlyList<string> domains, IReadOnlyList<string> languages)
    {
        Batch = batch;
        Length = length;
        Inputs = new int[batch * length];
        Labels = new int[batch * length];
        LossMask = new float[batch * length];
        DomainIds = new int[batch * length];
        LanguageIds = new int[batch * length];
        Domains = domains;
        Languages = languages;
    }

    /// <summary>Rows B.</summary>
    public int Batch { get; }
    /// <summary>Sequence length T.</summary>
    public int Length { get; }
    /// <summary>Token fed at each position. <c>[B, T]</c></summary>
    public int[] Inputs { get; }
    /// <summary>Token to predict at each position (pad where nothing is). <c>[B, T]</c></summary>
    public int[] Labels { get; }
    /// <summary>1 where the label is a target token, else 0. <c>[B, T]</c></summary>
    public float[] LossMask { get; }
    /// <summary>Index into <see cref="Domains"/> of the document the input token came from; -1 for BOS and padding. <c>[B, T]</c></summary>
    public int[] DomainIds { get; }
    /// <summary>Index into <see cref="Languages"/>, like <see cref="DomainIds"/>. <c>[B, T]</c></summary>
    public int[] LanguageIds { get; }
    /// <summary>Domain names (sorted, ordinal), shared by every batch of one pipeline.</summary>
    public IReadOnlyList<string> Domains { get; }
    /// <summary>Language tags (sorted, ordinal), shared by every batch of one pipeline.</summary>
    public IReadOnlyList<string> Languages { get; }
    /// <summary>Every example packed into the batch, in order.</summary>
    public List<PackedExample> Examples { get; } = [];

    /// <summary>Number of positions that carry loss.</summary>
    public int TargetCount => LossMask.Count(m => m != 0);
}

/// <summary>Where one packed example came from.</summary>
/// <param name="Row">Row b of the batch.</param>
/// <param name="Start">Position in the row's input stream of its first token (inputs first, then targets).</param>
/// <param name="Length">Packed length, inputs plus targets.</param>
/// <param name="Source">Source name it was drawn from.</param>
/// <param name="Transform">Transform that made it, e.g. "[NLU](3,0.15)" or "causal".</param>
public sealed record PackedExample(int Row, int Start, int Length, string Source, string Transform);
