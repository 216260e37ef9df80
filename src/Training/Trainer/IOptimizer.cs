namespace OpenMoE.Training;

/// <summary>
/// An optimizer over <see cref="HostParameters"/>: updates the values in place from the gradients.
/// Its state is a set of named float tensors (saved with checkpoints, restored on resume).
/// </summary>
public interface IOptimizer
{
    /// <summary>"adafactor" or "adamw".</summary>
    string Name { get; }

    /// <summary>One update at 1-based <paramref name="step"/> with learning rate <paramref name="learningRate"/>.</summary>
    void Step(HostParameters parameters, long step, double learningRate);

    /// <summary>State tensors by name (live arrays: copy before mutating elsewhere).</summary>
    IReadOnlyDictionary<string, float[]> State { get; }

    /// <summary>Replaces the state with <paramref name="state"/> (from <see cref="State"/> of the same optimizer and spec).</summary>
    void Restore(IReadOnlyDictionary<string, float[]> state);
}

/// <summary>Optimizers by name.</summary>
public static class Optimizers
{
    /// <summary>"adafactor" (OpenMoE's settings) or "adamw".</summary>
    public static IOptimizer Create(string name, HostParameters parameters) => name switch
    {
        "adafactor" => new Adafactor(parameters),
        "adamw" => new AdamW(parameters),
        _ => throw new ArgumentException($"Unknown optimizer '{name}'; use adafactor or adamw."),
    };
}
