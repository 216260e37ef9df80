using OpenMoE.Training.Data;
using OpenMoE.Training.Objectives;
using OpenMoE.Training.Tokenization;

namespace OpenMoE.Tests.Data;

public class DataPipelineTests
{
    private static readonly ByteTokenizer Tokenizer = new(512);

    private static DataSource Source(string name, string domain, string language, int documents, int words) =>
        new(name, Enumerable.Range(0, documents)
            .Select(i => new Document(string.Join(' ', Enumerable.Range(0, words + i % 7).Select(w => $"{name}{i}w{w}")), domain, language))
            .ToArray());

    private static readonly DataSource[] Sources =
    [
        Source("code", "code", "csharp", 40, 30),
        Source("prose", "prose", "en", 60, 50),
        Source("french", "multilingual", "fr", 20, 80),
    ];

    private static DataPipeline Pipeline(string objective, ulong seed = 11, MixtureSchedule? mixture = null, int t = 128) =>
        new(Sources, mixture ?? MixtureSchedule.Constant(new Dictionary<string, double> { ["code"] = 1, ["prose"] = 1, ["french"] = 1 }),
            ObjectiveSchedule.Parse(objective, Tokenizer, 5), Tokenizer, t, seed);

    private static void AssertSameBatch(PackedBatch a, PackedBatch b)
    {
        Assert.Equal(a.Inputs, b.Inputs);
        Assert.Equal(a.Labels, b.Labels);
        Assert.Equal(a.LossMask, b.LossMask);
        Assert.Equal(a.DomainIds, b.DomainIds);
        Assert.Equal(a.Examples, b.Examples);
    }

    [Theory]
    [InlineData("ul2")]
    [InlineData("causal")]
    public void Same_seed_gives_the_same_batches(string objective)
    {
        var a = Pipeline(objective);
        var b = Pipeline(objective);
        for (var step = 0; step < 5; step++)
        {
            AssertSameBatch(a.NextBatch(4, step), b.NextBatch(4, step));
        }
        Assert.NotEqual(Pipeline(objective).NextBatch(4, 0).Inputs, Pipeline(objective, seed: 12).NextBatch(4, 0).Inputs);
    }

    [Theory]
    [InlineData("ul2-then-causal")]
    [InlineData("causal")]
    public void Resuming_from_a_saved_state_continues_exactly(string objective)
    {
        var straight = Pipeline(objective);
        var first = Pipeline(objective);
        for (var step = 0; step < 4; step++)
        {
            AssertSameBatch(straight.NextBatch(3, step), first.NextBatch(3, step));
        }
        // Round-trip through JSON, as a checkpoint would store it, into a fresh pipeline.
        var saved = PipelineState.FromJson(first.State.ToJson());
        Assert.True(saved.SameAs(first.State));
        var resumed = Pipeline(objective);
        resumed.Restore(saved);
        for (var step = 4; step < 12; step++)
        {
            AssertSameBatch(straight.NextBatch(3, step), resumed.NextBatch(3, step));
        }
    }

    [Fact]
    public void A_state_from_other_data_is_refused()
    {
        var state = Pipeline("causal").State;
        Assert.Throws<ArgumentException>(() => Pipeline("causal", seed: 99).Restore(state));
    }

    [Theory]
    [InlineData("ul2")]
    [InlineData("causal")]
    public void Rows_are_shifted_streams_and_loss_covers_exactly_the_targets(string objective)
    {
        var batch = Pipeline(objective).NextBatch(6, 0);
        var t = batch.Length;
        for (var row = 0; row < batch.Batch; row++)
        {
            var o = row * t;
            Assert.Equal(Tokenizer.BosId, batch.Inputs[o]);
            Assert.Equal(-1, batch.DomainIds[o]);
            for (var i = 0; i + 1 < t; i++)
            {
                Assert.Equal(batch.Labels[o + i], batch.Inputs[o + i + 1]);
            }
        }
        // Rebuild the expected mask from the examples alone: an example at stream position p with
        // inputs I and targets U puts U at stream positions p+|I| .. p+|I|+|U|-1, i.e. labels one earlier.
        var expected = new float[batch.LossMask.Length];
        foreach (var example in batch.Examples)
        {
            var inputs = InputLength(batch, example);
            for (var p = example.Start + inputs; p < example.Start + example.Length && p <= t; p++)
            {
                expected[example.Row * t + p - 1] = 1f;
            }
        }
        Assert.Equal(expected, batch.LossMask);
        Assert.All(batch.Examples, e => Assert.True(e.Start + e.Length <= t + 1, "an example overflows its row"));
    }

    /// <summary>Input length of a packed example: causal has none; a UL2 example's inputs end at its first EOS.</summary>
    private static int InputLength(PackedBatch batch, PackedExample example)
    {
        if (example.Transform == "causal")
        {
            return 0;
        }
        var t = batch.Length;
        for (var p = example.Start; ; p++)
        {
            var token = p < t ? batch.Inputs[example.Row * t + p] : batch.Labels[example.Row * t + t - 1];
            if (token == Tokenizer.EosId)
            {
                return p - example.Start + 1;
            }
        }
    }

    [Fact]
    public void Domain_labels_follow_the_source_documents()
    {
        var batch = Pipeline("causal").NextBatch(8, 0);
        Assert.Equal(["code", "multilingual", "prose"], batch.Domains);
        Assert.Equal(["csharp", "en", "fr"], batch.Languages);
        var domainOf = new Dictionary<string, string> { ["code"] = "code", ["prose"] = "prose", ["french"] = "multilingual" };
        var t = batch.Length;
        foreach (var example in batch.Examples)
        {
            var end = Math.Min(example.Start + example.Length, t);
            for (var p = example.Start; p < end; p++)
            {
                Assert.Equal(domainOf[example.Source], batch.Domains[batch.DomainIds[example.Row * t + p]]);
            }
            // The text itself comes from that source: its words all start with the source name.
            var words = Tokenizer.Decode(batch.Inputs.AsSpan(example.Row * t + example.Start, end - example.Start)).Split(' ');
            Assert.All(words[1..^1], w => Assert.StartsWith(example.Source, w));
        }
    }

    [Fact]
    public void Mixture_schedule_shifts_the_token_shares()
    {
        var mixture = new MixtureSchedule(
        [
            new MixturePhase(0, new Dictionary<string, double> { ["code"] = 0.5225, ["prose"] = 0.4775 }),
            new MixturePhase(10, new Dictionary<string, double> { ["code"] = 0.15, ["prose"] = 0.85 }),
        ]);
        var pipeline = Pipeline("causal", mixture: mixture, t: 256);
        double CodeShare(long step)
        {
            var examples = Enumerable.Range(0, 10).SelectMany(k => pipeline.NextBatch(8, step + k).Examples).ToArray();
            return examples.Count(e => e.Source == "code") / (double)examples.Length;
        }
        // Weights are per example (seqio rates). About 400 examples: binomial std ~0.025.
        Assert.InRange(CodeShare(0), 0.5225 - 0.1, 0.5225 + 0.1);
        Assert.InRange(CodeShare(10), 0.15 - 0.08, 0.15 + 0.08);
        Assert.Equal(0.15, mixture.At(10).Weights["code"]);
    }

    [Fact]
    public void Unknown_source_names_in_a_mixture_fail_early()
    {
        var typo = MixtureSchedule.Constant(new Dictionary<string, double> { ["kode"] = 1 });
        var error = Assert.Throws<ArgumentException>(() => Pipeline("causal", mixture: typo));
        Assert.Contains("kode", error.Message);
    }

    [Fact]
    public void Ul2_rows_are_mostly_full()
    {
        var batch = Pipeline("ul2", t: 256).NextBatch(16, 0);
        var used = batch.DomainIds.Count(d => d >= 0) / (double)batch.DomainIds.Length;
        Assert.InRange(used, 0.9, 1.0);
        Assert.Contains(batch.Examples, e => e.Transform.StartsWith("[S2S]", StringComparison.Ordinal));
    }
}
