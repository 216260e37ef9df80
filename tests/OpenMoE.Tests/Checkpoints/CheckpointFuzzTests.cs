using FsCheck.Xunit;
using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Tests.Checkpoints;

/// <summary>A valid checkpoint written once and shared by every fuzz case.</summary>
public sealed class FuzzCheckpointFixture : IDisposable
{
    private readonly TempFolder _temp = new();

    public FuzzCheckpointFixture()
    {
        var tensors = CheckpointTestData.Descriptors();
        Data = CheckpointTestData.RandomData(tensors, seed: 21);
        Path = CheckpointTestData.Write(_temp.Sub("base"), tensors, Data, maxShardBytes: 400);
        Files = Directory.GetFiles(Path).Select(System.IO.Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
    }

    public string Path { get; }

    public string[] Files { get; }

    public Dictionary<string, byte[]> Data { get; }

    public void Dispose() => _temp.Dispose();
}

public class CheckpointFuzzTests(FuzzCheckpointFixture fixture) : IClassFixture<FuzzCheckpointFixture>
{
    private static readonly TimeSpan CaseTimeLimit = TimeSpan.FromSeconds(10);
    private const long AllocationLimit = 16 << 20;

    [Property(MaxTest = 300)]
    public void A_randomly_damaged_checkpoint_loads_identically_or_throws_CheckpointException(int seed)
    {
        using var temp = new TempFolder();
        var copy = temp.Sub("case");
        Directory.CreateDirectory(copy);
        foreach (var f in fixture.Files) File.Copy(Path.Combine(fixture.Path, f), Path.Combine(copy, f));

        var random = new Random(seed);
        var target = Path.Combine(copy, fixture.Files[random.Next(fixture.Files.Length)]);
        var original = File.ReadAllBytes(target);
        var mutated = Mutate(original, random);
        File.WriteAllBytes(target, mutated);
        var changed = !original.AsSpan().SequenceEqual(mutated);

        var run = Task.Run(() =>
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                using var reader = CheckpointReader.Open(copy);
                return (Loaded: (IReadOnlyDictionary<string, byte[]>?)reader.LoadAll(), Error: (Exception?)null, Allocated: GC.GetAllocatedBytesForCurrentThread() - before);
            }
            catch (Exception e)
            {
                return (Loaded: null, Error: e, Allocated: GC.GetAllocatedBytesForCurrentThread() - before);
            }
        });
        Assert.True(run.Wait(CaseTimeLimit), $"seed {seed}: loading did not finish in {CaseTimeLimit}");
        var (loaded, error, allocated) = run.Result;

        Assert.True(allocated < AllocationLimit, $"seed {seed}: loading allocated {allocated} bytes");
        if (error is not null)
            Assert.True(error is CheckpointException, $"seed {seed}: {error.GetType().Name}: {error.Message}");
        else
        {
            Assert.False(changed, $"seed {seed}: a changed {Path.GetFileName(target)} loaded without an error");
            CheckpointTestData.AssertSameTensors(fixture.Data, loaded!);
        }
    }

    /// <summary>One random damage: flipped bits, overwritten bytes, a big length word, truncation or appended bytes.</summary>
    internal static byte[] Mutate(byte[] bytes, Random random)
    {
        var result = bytes.ToArray();
        switch (random.Next(6))
        {
            case 0:
                for (var i = random.Next(1, 4); i > 0; i--) result[random.Next(result.Length)] ^= (byte)(1 << random.Next(8));
                return result;
            case 1:
                result[random.Next(result.Length)] = (byte)random.Next(256);
                return result;
            case 2:
                // A plausible-looking but huge length field (msgpack lengths are big-endian).
                var at = random.Next(Math.Max(1, result.Length - 4));
                var word = random.Next(3) switch { 0 => 0x7FFFFFFFu, 1 => 0xFFFFFFFFu, _ => (uint)random.Next() };
                for (var i = 0; i < 4 && at + i < result.Length; i++) result[at + i] = (byte)(word >> (24 - 8 * i));
                return result;
            case 3:
                return result[..random.Next(result.Length)];
            case 4:
                var tail = new byte[random.Next(1, 32)];
                random.NextBytes(tail);
                return [.. result, .. tail];
            default:
                var from = random.Next(result.Length);
                var length = random.Next(1, Math.Min(64, result.Length - from) + 1);
                random.NextBytes(result.AsSpan(from, length));
                return result;
        }
    }
}
