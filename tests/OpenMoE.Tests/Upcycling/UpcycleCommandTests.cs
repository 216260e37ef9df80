using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Specs;
using OpenMoE.Tests.Cli;
using OpenMoE.Tests.Data;

namespace OpenMoE.Tests.Upcycling;

/// <summary>A dense checkpoint made once (`openmoe init`) for the upcycle command's cases.</summary>
public sealed class DenseCheckpoint : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("openmoe-upcycle-").FullName;
    public string OpenMoE => Path.Combine(Root, "openmoe-dense");
    public string Mixtral => Path.Combine(Root, "mixtral-dense");

    public DenseCheckpoint()
    {
        foreach (var (spec, path) in new[] { ("OpenMoE-Tiny-Dense", OpenMoE), ("Mixtral-Tiny-Dense", Mixtral) })
        {
            var result = CliRunner.Invoke("init", "--spec", spec, "--init-seed", "4", "--out", path);
            Assert.True(result.ExitCode == 0, result.ToString());
        }
    }

    public string Out(string name) => Path.Combine(Root, name + Guid.NewGuid().ToString("N")[..6]);

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>`openmoe upcycle` and `openmoe train --init-from`: what they write, and one error line with exit 2 for every bad input.</summary>
public sealed class UpcycleCommandTests(DenseCheckpoint files) : IClassFixture<DenseCheckpoint>
{
    private static void AssertOneError(CliRunner.Result result, params string[] mentions) => BadInputTests.AssertOneError(result, 2, mentions);

    [Fact]
    public void Upcycle_writes_a_verified_moe_checkpoint_whose_experts_are_the_dense_ffn_and_training_starts_from_it()
    {
        string moe = files.Out("moe");
        var result = CliRunner.Invoke("upcycle", "--from", files.OpenMoE, "--spec", "OpenMoE-Tiny", "--out", moe, "--seed", "9");
        Assert.True(result.ExitCode == 0, result.ToString());

        using (var dense = WeightFile.Open(files.OpenMoE, ModelSpecs.Find("OpenMoE-Tiny-Dense")))
        using (var upcycled = WeightFile.Open(moe, ModelSpecs.Find("OpenMoE-Tiny")))
        {
            Assert.Equal("9", upcycled.Checkpoint!.Metadata.Extra["init_seed"]);
            var spec = ModelSpecs.Find("OpenMoE-Tiny");
            // Expert 5's up projection of layer 3 (stack [E, D, F]) is the dense up projection [F, D] transposed.
            var up = upcycled.Read(spec.Parameters.Single(p => p.Name == "model.layers.3.mlp.experts.wi_up"));
            var denseUp = dense.Read(ModelSpecs.Find("OpenMoE-Tiny-Dense").Parameters.Single(p => p.Name == "model.layers.3.mlp.up_proj.weight"));
            int d = spec.Config.Hidden, f = spec.Config.ExpertFfn;
            for (int i = 0; i < d; i++)
                for (int j = 0; j < f; j++)
                    Assert.Equal(denseUp[j * d + i], up[5 * d * f + i * f + j]);
            var embedding = spec.Parameters.Single(p => p.Role == ParameterRole.Embedding);
            Assert.Equal(dense.Read(embedding), upcycled.Read(embedding));
        }

        var verify = CliRunner.Invoke("checkpoint", "verify", moe);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        var train = CliRunner.Invoke("train", "--spec", "OpenMoE-Tiny", "--init-from", moe, "--data", RepositoryFiles.PathOf("data/corpus"),
            "--steps", "1", "--batch", "2", "--seq", "16", "--objective", "causal", "--out", files.Out("run"), "--device", "cpu");
        Assert.True(train.ExitCode == 0, train.ToString());
    }

    [Fact]
    public void Spec_mismatch_is_exit_2_naming_the_size_that_differs() =>
        AssertOneError(CliRunner.Invoke("upcycle", "--from", files.OpenMoE, "--spec", "Mixtral-Tiny", "--out", files.Out("x")), "--from", "KvHeads");

    [Fact]
    public void An_moe_checkpoint_as_the_dense_model_is_exit_2()
    {
        string moe = files.Out("moe");
        Assert.Equal(0, CliRunner.Invoke("upcycle", "--from", files.Mixtral, "--spec", "Mixtral-Tiny", "--out", moe).ExitCode);
        AssertOneError(CliRunner.Invoke("upcycle", "--from", moe, "--spec", "Mixtral-Tiny", "--out", files.Out("x")), "has MoE layers", "Mixtral-Tiny-Dense");
    }

    [Fact]
    public void A_dense_spec_as_the_target_is_exit_2() =>
        AssertOneError(CliRunner.Invoke("upcycle", "--from", files.Mixtral, "--spec", "Mixtral-Tiny-Dense", "--out", files.Out("x")), "dense spec", "--spec");

    [Fact]
    public void Missing_dense_checkpoint_is_exit_2() =>
        AssertOneError(CliRunner.Invoke("upcycle", "--from", Path.Combine(files.Root, "nowhere"), "--spec", "OpenMoE-Tiny", "--out", files.Out("x")), "--from", "nowhere");

    [Fact]
    public void Unknown_spec_is_exit_2() =>
        AssertOneError(CliRunner.Invoke("upcycle", "--from", files.OpenMoE, "--spec", "OpenMoE-Huge", "--out", files.Out("x")), "OpenMoE-Huge");

    [Fact]
    public void Negative_noise_is_exit_2() =>
        AssertOneError(CliRunner.Invoke("upcycle", "--from", files.OpenMoE, "--spec", "OpenMoE-Tiny", "--out", files.Out("x"), "--noise", "-0.1"), "--noise");

    [Fact]
    public void Existing_output_is_exit_2_and_left_alone()
    {
        string existing = Directory.CreateDirectory(files.Out("taken")).FullName;
        File.WriteAllText(Path.Combine(existing, "keep.txt"), "mine");
        AssertOneError(CliRunner.Invoke("upcycle", "--from", files.OpenMoE, "--spec", "OpenMoE-Tiny", "--out", existing), "--out", "--overwrite");
        Assert.Equal("mine", File.ReadAllText(Path.Combine(existing, "keep.txt")));
    }

    [Fact]
    public void Truncated_dense_checkpoint_is_exit_2()
    {
        string copy = files.Out("truncated");
        CopyFolder(files.OpenMoE, copy);
        var shard = Directory.GetFiles(copy, "*", SearchOption.AllDirectories).OrderByDescending(f => new FileInfo(f).Length).First();
        using (var stream = File.Open(shard, FileMode.Open))
            stream.SetLength(stream.Length / 2);
        var result = CliRunner.Invoke("upcycle", "--from", copy, "--spec", "OpenMoE-Tiny", "--out", files.Out("x"));
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Single(result.ErrorLines);
    }

    [Fact]
    public void Train_init_from_a_checkpoint_of_another_spec_is_exit_2() =>
        AssertOneError(CliRunner.Invoke("train", "--spec", "OpenMoE-Tiny", "--init-from", files.OpenMoE, "--data", RepositoryFiles.PathOf("data/corpus"),
            "--steps", "1", "--out", files.Out("run"), "--device", "cpu"), "OpenMoE-Tiny-Dense");

    [Fact]
    public void Train_init_from_a_missing_path_is_exit_2() =>
        AssertOneError(CliRunner.Invoke("train", "--spec", "OpenMoE-Tiny", "--init-from", Path.Combine(files.Root, "gone"), "--data", RepositoryFiles.PathOf("data/corpus"),
            "--steps", "1", "--out", files.Out("run"), "--device", "cpu"), "--init-from", "gone");

    [Fact]
    public void Upcycle_carries_the_dense_runs_tokenizer_and_train_init_from_refuses_another()
    {
        string tokenizer = RepositoryFiles.PathOf("tests/OpenMoE.Tests/Data/Fixtures/tiny-bpe.tokenizer.json");
        string dense = files.Out("dense-run");
        var trained = CliRunner.Invoke("train", "--spec", "OpenMoE-Tiny-Dense", "--tokenizer", tokenizer, "--data", RepositoryFiles.PathOf("data/corpus"),
            "--steps", "1", "--batch", "1", "--seq", "16", "--objective", "causal", "--out", dense, "--device", "cpu");
        Assert.True(trained.ExitCode == 0, trained.ToString());
        string moe = files.Out("moe");
        Assert.Equal(0, CliRunner.Invoke("upcycle", "--from", dense, "--spec", "OpenMoE-Tiny", "--out", moe).ExitCode);

        using (var upcycled = WeightFile.Open(moe, ModelSpecs.Find("OpenMoE-Tiny")))
            Assert.StartsWith("huggingface:tiny-bpe.tokenizer.json#", OpenMoE.Training.CheckpointTrainingStore.RecordedTokenizer(upcycled.Checkpoint!.Metadata.Extra), StringComparison.Ordinal);
        AssertOneError(CliRunner.Invoke("train", "--spec", "OpenMoE-Tiny", "--init-from", moe, "--data", RepositoryFiles.PathOf("data/corpus"),
            "--steps", "1", "--out", files.Out("run"), "--device", "cpu"), "--init-from", "tiny-bpe.tokenizer.json");
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
