using OpenMoE.Model.Specs;

namespace OpenMoE.Parallel.RankHost;

/// <summary>
/// Deterministic random weights from (seed, tensor name), the same in every process: the ranks and
/// the single-process run they are compared with build the same model without sharing a file.
/// Norm weights near 1, everything else small, so the tiny models' activations stay moderate.
/// </summary>
public static class RankWeights
{
    /// <summary>The values of <paramref name="parameter"/> for <paramref name="seed"/>. // [Elements]</summary>
    public static float[] For(ParameterInfo parameter, int seed)
    {
        int hash = seed;
        foreach (char c in parameter.Name) hash = unchecked(hash * 31 + c);
        var random = new Random(hash);
        bool norm = parameter.Shape.Length == 1;
        var values = new float[parameter.Elements];
        for (int i = 0; i < values.Length; i++)
            values[i] = norm ? 1f + 0.1f * (float)(random.NextDouble() - 0.5) : 0.2f * (float)(random.NextDouble() - 0.5);
        return values;
    }
}
