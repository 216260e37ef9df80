namespace OpenMoE.Training.Planning;

/// <summary>How weights and activations are stored (the router, the LM-head logits and the optimizer stay fp32 in both).</summary>
public enum Precision
{
    /// <summary>Everything fp32: what every command runs today.</summary>
    Fp32,
    /// <summary>OpenMoE's recipe: bf16 weights and activations, fp32 master weights and optimizer state.</summary>
    Bf16,
}

/// <summary>Bytes per element of a <see cref="Precision"/>.</summary>
public static class PrecisionSizes
{
    /// <summary>2 for bf16, 4 for fp32.</summary>
    public static int BytesPerElement(this Precision precision) => precision == Precision.Bf16 ? 2 : 4;

    /// <summary>Parses <c>fp32</c> or <c>bf16</c> (the CLI's spelling).</summary>
    public static Precision Parse(string text) => text switch
    {
        "fp32" => Precision.Fp32,
        "bf16" => Precision.Bf16,
        _ => throw new ArgumentException($"--precision must be fp32 or bf16; got '{text}'."),
    };

    /// <summary>The CLI's spelling.</summary>
    public static string Name(this Precision precision) => precision == Precision.Bf16 ? "bf16" : "fp32";
}
