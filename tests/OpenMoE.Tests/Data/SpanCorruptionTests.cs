using FsCheck.Xunit;
using OpenMoE.Training.Data;
using OpenMoE.Training.Objectives;
using OpenMoE.Training.Tokenization;

namespace OpenMoE.Tests.Data;

public class SpanCorruptionTests
{
    private static readonly ByteTokenizer Tokenizer = new(512);
    private static readonly (double Mean, double Rate)[] Denoisers = [(3, 0.15), (8, 0.15), (3, 0.5), (8, 0.5), (64, 0.5)];

    private static (int Length, double Mean, double Rate) Case(int length, int denoiser) =>
        (2 + Math.Abs(length % 600), Denoisers[Math.Abs(denoiser % Denoisers.Length)].Mean, Denoisers[Math.Abs(denoiser % Denoisers.Length)].Rate);

    [Property(MaxTest = 300)]
    public bool Noise_count_and_span_count_follow_the_T5_formulas(int lengthSeed, int denoiser, ulong seed)
    {
        var (length, mean, rate) = Case(lengthSeed, denoiser);
        var mask = SpanCorruption.RandomSpansNoiseMask(length, rate, mean, new DataRng(seed));
        var noise = mask.Count(m => m);
        var spans = Enumerable.Range(0, length).Count(i => mask[i] && (i == 0 || !mask[i - 1]));
        var expectedNoise = Math.Clamp((int)Math.Round(length * rate, MidpointRounding.ToEven), 1, length - 1);
        var expectedSpans = Math.Min(Math.Max((int)Math.Round(expectedNoise / mean, MidpointRounding.ToEven), 1), Math.Min(expectedNoise, length - expectedNoise));
        return mask.Length == length && noise == expectedNoise && spans == expectedSpans
               && !mask[0] && mask[^1]; // T5 interleaves starting with kept tokens and ends with noise
    }

    [Property(MaxTest = 300)]
    public bool Inputs_and_targets_reconstruct_the_original(int lengthSeed, int denoiser, ulong seed)
    {
        var (length, mean, rate) = Case(lengthSeed, denoiser);
        var rng = new DataRng(seed);
        var raw = Enumerable.Range(0, length).Select(_ => ByteTokenizer.FirstByteId + rng.NextInt(256)).ToArray();
        var transform = new SpanCorruption(Tokenizer, mean, rate, "[NLU] ");
        if (transform.OutputLength(length, true) == int.MaxValue)
        {
            return true; // more spans than sentinels: the pipeline never asks for this length
        }
        var example = transform.Apply(raw, true, rng);
        return Reconstruct(example, "[NLU] ").SequenceEqual(raw)
               && example.Length == transform.OutputLength(length, true);
    }

    /// <summary>Undo span corruption: replace each sentinel in the inputs by what follows it in the targets.</summary>
    private static int[] Reconstruct(TrainingExample example, string prefix)
    {
        var prefixLength = Tokenizer.Encode(prefix).Length;
        Assert.Equal(Tokenizer.EosId, example.Inputs[^1]);
        Assert.Equal(Tokenizer.EosId, example.Targets[^1]);
        var spans = new Dictionary<int, List<int>>();
        List<int>? current = null;
        var order = new List<int>();
        foreach (var id in example.Targets[..^1])
        {
            if (Tokenizer.IsSentinel(id))
            {
                spans[id] = current = [];
                order.Add(id);
            }
            else
            {
                Assert.NotNull(current); // targets start with a sentinel
                current!.Add(id);
            }
        }
        // Sentinels count down from V-1 in order of appearance.
        Assert.Equal(Enumerable.Range(0, order.Count).Select(i => Tokenizer.VocabSize - 1 - i), order);
        var original = new List<int>();
        foreach (var id in example.Inputs[prefixLength..^1])
        {
            if (Tokenizer.IsSentinel(id))
            {
                Assert.True(spans.Remove(id, out var span), "an input sentinel has no target span");
                original.AddRange(span);
            }
            else
            {
                original.Add(id);
            }
        }
        Assert.Empty(spans); // every target span was used exactly once
        return [.. original];
    }

    [Fact]
    public void Mode_prefix_leads_the_inputs()
    {
        var transform = new SpanCorruption(Tokenizer, 3, 0.5, "[NLG] ");
        var example = transform.Apply(Tokenizer.Encode("The quick brown fox jumps over the lazy dog."), true, new DataRng(1));
        Assert.StartsWith("[NLG] ", Tokenizer.Decode(example.Inputs));
        Assert.Equal("[NLG](3,0.5)", transform.Name);
    }

    [Fact]
    public void Same_seed_same_example_other_seed_other_example()
    {
        var transform = new SpanCorruption(Tokenizer, 3, 0.15, "[NLU] ");
        var raw = Tokenizer.Encode(string.Concat(Enumerable.Repeat("determinism matters. ", 20)));
        var a = transform.Apply(raw, true, new DataRng(42));
        var b = transform.Apply(raw, true, new DataRng(42));
        var c = transform.Apply(raw, true, new DataRng(43));
        Assert.Equal(a.Inputs, b.Inputs);
        Assert.Equal(a.Targets, b.Targets);
        Assert.NotEqual(a.Inputs, c.Inputs);
    }

    [Fact]
    public void Random_segmentation_gives_every_split_point_a_chance()
    {
        // 5 items in 2 segments: the first segment has length 1..4, each with probability 1/4.
        var rng = new DataRng(7);
        var counts = new int[5];
        const int draws = 20_000;
        for (var i = 0; i < draws; i++)
        {
            var lengths = SpanCorruption.RandomSegmentation(5, 2, rng);
            Assert.Equal(5, lengths.Sum());
            counts[lengths[0]]++;
        }
        Assert.Equal(0, counts[0]);
        for (var first = 1; first <= 4; first++)
        {
            Assert.InRange(counts[first] / (double)draws, 0.23, 0.27);
        }
    }

    [Property(MaxTest = 200)]
    public bool Prefix_lm_splits_once_and_keeps_every_token(int lengthSeed, ulong seed)
    {
        var length = 2 + Math.Abs(lengthSeed % 300);
        var rng = new DataRng(seed);
        var raw = Enumerable.Range(0, length).Select(_ => ByteTokenizer.FirstByteId + rng.NextInt(256)).ToArray();
        var example = new PrefixLm(Tokenizer, "[S2S] ").Apply(raw, true, rng);
        var prefix = Tokenizer.Encode("[S2S] ");
        int[] joined = [.. example.Inputs[prefix.Length..^1], .. example.Targets[..^1]];
        return example.Inputs.Take(prefix.Length).SequenceEqual(prefix) && joined.SequenceEqual(raw)
               && example.Targets.Length >= 2 && example.Inputs.Length >= prefix.Length + 2;
    }

    [Fact]
    public void OpenMoE_mixture_draws_each_denoiser_in_proportion()
    {
        var mixture = Ul2Mixture.OpenMoE(Tokenizer);
        var rng = new DataRng(3);
        const int draws = 40_000;
        var counts = new Dictionary<IExampleTransform, int>();
        for (var i = 0; i < draws; i++)
        {
            var d = mixture.Next(rng);
            counts[d] = counts.GetValueOrDefault(d) + 1;
        }
        Assert.Equal(6, counts.Count);
        for (var i = 0; i < mixture.Denoisers.Count; i++)
        {
            // Binomial std at p = 0.1 is 0.0015; 0.01 is more than 6 std.
            Assert.InRange(counts[mixture.Denoisers[i]] / (double)draws, mixture.Weights[i] - 0.01, mixture.Weights[i] + 0.01);
        }
        Assert.Equal(
            ["[NLU](3,0.15)", "[NLU](8,0.15)", "[NLG](3,0.5)", "[NLG](8,0.5)", "[NLG](64,0.5)", "[S2S](prefix-lm)"],
            mixture.Denoisers.Select(d => d.Name));
    }

    [Fact]
    public void Schedule_switches_objective_at_the_given_step()
    {
        var schedule = ObjectiveSchedule.Parse("ul2-then-causal", Tokenizer, 100);
        Assert.Equal("ul2", schedule.At(0).Name);
        Assert.Equal("ul2", schedule.At(99).Name);
        Assert.Equal("causal", schedule.At(100).Name);
        Assert.Equal("causal", schedule.At(10_000).Name);
        Assert.Throws<ArgumentException>(() => ObjectiveSchedule.Parse("mlm", Tokenizer, 0));
    }
}
