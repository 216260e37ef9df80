using OpenMoE.Model.Specs;

namespace OpenMoE.Parallel.RankHost;

/// <summary>The test job's global batch, the same in every process.</summary>
public static class RankTokens
{
    /// <summary><paramref name="batch"/> sequences of <paramref name="time"/> token ids of <paramref name="spec"/>. // [B*T]</summary>
    public static int[] Batch(ModelSpecInfo spec, int batch, int time)
    {
        var random = new Random(41);
        return Enumerable.Range(0, batch * time).Select(_ => random.Next(spec.Config.Vocab)).ToArray();
    }
}
