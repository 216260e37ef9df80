using System.IO.Hashing;
using System.Text;

namespace OpenMoE.Runtime.Communication;

/// <summary>
/// Start-up check that every rank runs the same job: ranks started with different specs, seeds or
/// options would route, shard or sum different things and hang or drift later, far from the cause.
/// </summary>
public static class RankAgreement
{
    /// <summary>
    /// Every rank passes the same named settings (same names, same order); a setting whose value
    /// differs on any rank fails every rank alike with a <see cref="CommunicatorException"/> naming
    /// it and each rank's value. A collective: all ranks must call it.
    /// </summary>
    public static void Require(ICommunicator communicator, IReadOnlyList<(string Name, string Value)> settings)
    {
        if (communicator.Size == 1)
            return;
        int count = communicator.AllGather(settings.Count).Distinct().Count() == 1
            ? settings.Count
            : throw new CommunicatorException($"The ranks check different numbers of settings (this rank {communicator.Rank}: {settings.Count}); they run different builds or commands.");
        var hashes = new long[count * communicator.Size];
        var mine = settings.Select(s => (long)XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(s.Name + "=" + s.Value))).ToArray();
        communicator.AllGatherVariable<long>(mine, Enumerable.Repeat(count, communicator.Size).ToArray(), hashes);
        var problems = new List<string>();
        for (int i = 0; i < count; i++)
        {
            bool same = Enumerable.Range(1, communicator.Size - 1).All(r => hashes[r * count + i] == hashes[i]);
            if (same)
                continue;
            // Every rank found the same mismatches, so every rank takes part in these gathers alike.
            var values = GatherStrings(communicator, settings[i].Value);
            problems.Add($"{settings[i].Name} ({string.Join(", ", values.Select((v, r) => $"rank {r}: {v}"))})");
        }
        if (problems.Count > 0)
            throw new CommunicatorException($"The ranks disagree on {string.Join("; ", problems)}; start every rank with the same command.");
    }

    private static string[] GatherStrings(ICommunicator communicator, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        var lengths = communicator.AllGather(bytes.Length);
        var all = new byte[lengths.Sum()];
        communicator.AllGatherVariable<byte>(bytes, lengths, all);
        var result = new string[lengths.Length];
        for (int r = 0, offset = 0; r < lengths.Length; offset += lengths[r], r++)
            result[r] = Encoding.UTF8.GetString(all, offset, lengths[r]);
        return result;
    }
}
