namespace OpenMoE.Model.Generation;

/// <summary>How the next token is picked from the logits.</summary>
public sealed record SamplingOptions
{
    /// <summary>Softmax temperature; 0 means greedy (argmax).</summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>Keep only the K most likely tokens (0 = no limit).</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set of tokens whose probability reaches P (1 = no limit).</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>Seed of the sampling stream.</summary>
    public ulong Seed { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first option out of range.</summary>
    public SamplingOptions Validated()
    {
        if (Temperature < 0 || double.IsNaN(Temperature))
            throw new ArgumentException($"--temperature must be >= 0 (0 = greedy), got {Temperature}.");
        if (TopK < 0)
            throw new ArgumentException($"--top-k must be >= 0 (0 = off), got {TopK}.");
        if (!(TopP > 0 && TopP <= 1))
            throw new ArgumentException($"--top-p must be in (0, 1], got {TopP}.");
        return this;
    }
}
