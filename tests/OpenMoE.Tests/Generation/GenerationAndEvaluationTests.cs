using OpenMoE.Cli;
using OpenMoE.Model.Evaluation;
using OpenMoE.Model.Generation;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Tests.Kernels;
using OpenMoE.Tests.Reference;

namespace OpenMoE.Tests.Generation;

public class GenerationAndEvaluationTests(CpuDeviceFixture fixture) : IClassFixture<CpuDeviceFixture>
{
    private static readonly ModelSpecInfo Tiny = ModelSpecs.Find("OpenMoE-Tiny");

    private MoeTransformer Model(ReferenceWeights weights) =>
        new(fixture.Device, Tiny, DeviceWeights.Load(fixture.Device, Tiny, p => weights.ToFloats(p.Name)));

    [Fact]
    public void Greedy_cached_generation_equals_greedy_full_recomputation()
    {
        var weights = ReferenceWeights.Random(Tiny.Config, seed: 21);
        using var model = Model(weights);
        int[] prompt = [0, 72, 101, 108];
        const double noDrops = 64;
        var generated = new TextGenerator(model).Generate(prompt, 8, new SamplingOptions { Temperature = 0 }, capacityFactor: noDrops);

        var sequence = prompt.ToList();
        foreach (int token in generated)
        {
            var full = model.Forward(sequence.ToArray(), 1, new ForwardOptions { CapacityFactor = noDrops });
            var last = full.Row(0, sequence.Count - 1);
            int best = 0;
            for (int v = 1; v < last.Length; v++)
                best = last[v] > last[best] ? v : best;
            Assert.Equal(best, token);
            sequence.Add(token);
        }
    }

    [Fact]
    public void Generation_rejects_an_empty_prompt_and_a_too_long_request()
    {
        using var model = Model(ReferenceWeights.Random(Tiny.Config, seed: 2));
        var generator = new TextGenerator(model);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => generator.Generate([], 4, new SamplingOptions())).Message);
        Assert.Contains("context length", Assert.Throws<ArgumentException>(
            () => generator.Generate([0], Tiny.Config.ContextLength, new SamplingOptions())).Message);
    }

    [Fact]
    public void Evaluated_cross_entropy_equals_the_reference_model()
    {
        var weights = ReferenceWeights.Random(Tiny.Config, seed: 8);
        var random = new Random(4);
        int[][] sequences = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, 20).Select(_ => random.Next(Tiny.Config.Vocab)).ToArray()).ToArray();
        using var model = Model(weights);
        var report = new Evaluator(model).Run(sequences, batchSize: 3, capacityFactor: 2.0);
        var reference = ReferenceModel.Forward(Tiny.Config, weights, sequences, 2.0);

        Assert.Equal(reference.TargetCount, report.Targets);
        Assert.Equal(reference.CrossEntropy, report.CrossEntropy, 3);
        Assert.Equal(reference.LoadBalanceLoss, report.LoadBalancingLoss, 4);
        Assert.Equal(Tiny.Config.MoeLayers, report.DropRatioByLayer.Keys);
        for (int m = 0; m < reference.Routing.Count; m++)
            Assert.Equal(reference.Routing[m].DropRatio, report.DropRatioByLayer[reference.Routing[m].Layer], 6);
    }

    [Fact]
    public void Token_id_files_parse_commas_and_spaces_and_name_bad_fields()
    {
        string path = Path.GetTempFileName();
        File.WriteAllText(path, "1, 2 3,4\n\n5 6\n");
        Assert.Equal(new[] { new[] { 1, 2, 3, 4 }, new[] { 5, 6 } }, TokenIdFile.Read(path));
        var input = TokenIdFile.Sequences(TokenIdFile.ReadLines(path), 2, vocab: 10, contextLength: 4);
        Assert.Equal(new[] { new[] { 1, 2 }, new[] { 3, 4 }, new[] { 5, 6 } }, input.Sequences);
        Assert.Equal([$"{path}:2: empty"], input.Skipped);
        File.WriteAllText(path, "1 x 3\n");
        var error = Assert.Throws<FormatException>(() => TokenIdFile.Read(path));
        Assert.Contains(":1: 'x'", error.Message);
        File.Delete(path);
    }

    [Fact]
    public void Cli_generate_and_eval_run_and_fail_cleanly_on_bad_input()
    {
        string ids = Path.GetTempFileName();
        File.WriteAllText(ids, string.Join(' ', Enumerable.Range(0, 64).Select(i => i * 7 % 512)) + "\n");
        string dump = Path.GetTempFileName();
        Assert.Equal(0, Program.Main(["generate", "--spec", "OpenMoE-Tiny", "--init-seed", "1", "--device", "cpu",
            "--prompt", "Hi", "--max-new-tokens", "4", "--temperature", "0"]));
        Assert.Equal(0, Program.Main(["eval", "--spec", "OpenMoE-Tiny", "--init-seed", "1", "--device", "cpu",
            "--token-ids", ids, "--seq", "32", "--batch", "2", "--json", "--dump", dump]));
        using (var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(dump)))
        {
            var sequences = json.RootElement.GetProperty("sequences");
            Assert.Equal(2, sequences.GetArrayLength());
            Assert.Equal(Tiny.Config.Vocab, sequences[0].GetProperty("lastLogits").GetArrayLength());
            Assert.Equal(Tiny.Config.MoeLayers.Count, sequences[0].GetProperty("moeLayers").GetArrayLength());
        }
        Assert.Equal(2, Program.Main(["generate", "--spec", "OpenMoE-Tiny", "--init-seed", "1", "--device", "cpu", "--prompt-ids", "1,99999"]));
        Assert.Equal(2, Program.Main(["generate", "--spec", "No-Such-Spec", "--init-seed", "1", "--prompt", "x"]));
        Assert.Equal(2, Program.Main(["eval", "--spec", "OpenMoE-Tiny", "--init-seed", "1", "--device", "cpu", "--text", "/no/such/file"]));
        File.Delete(ids);
        File.Delete(dump);
    }
}
