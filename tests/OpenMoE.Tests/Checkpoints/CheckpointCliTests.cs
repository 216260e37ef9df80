using System.CommandLine;
using OpenMoE.Cli.Commands;
using OpenMoE.Runtime.Checkpoints;
using OpenMoE.Runtime.SafeTensors;

namespace OpenMoE.Tests.Checkpoints;

public class CheckpointCliTests
{
    private static (int Code, string Output) Invoke(params string[] args)
    {
        var result = OpenMoE.Tests.Cli.CliRunner.Invoke(new RootCommand { CheckpointCommand.Create(), ConvertCommand.Create() }, args);
        return (result.ExitCode, result.Out + result.Err);
    }

    [Fact]
    public void Info_shows_spec_step_tensors_and_verified_checksums()
    {
        using var temp = new TempFolder();
        var tensors = CheckpointTestData.Descriptors();
        var path = CheckpointTestData.Write(temp.Sub("run/step-00000007"), tensors, CheckpointTestData.RandomData(tensors, 1),
            state: new TrainingState { OptimizerName = "adafactor", ObjectivePhase = "ul2" });

        var (code, output) = Invoke("checkpoint", "info", temp.Sub("run"));
        Assert.Equal(0, code);
        Assert.Contains("Test-Tiny/4E", output);
        Assert.Contains(CheckpointTestData.Spec.Hash, output);
        Assert.Contains("model.layers.0.mlp.experts.wi_gate", output);
        Assert.Contains("BF16", output);
        Assert.Contains("[4, 8, 6]", output);
        Assert.Contains("adafactor", output);
        Assert.Contains("verified", output);
        Assert.Contains(path, output);
    }

    [Fact]
    public void Verify_exits_0_when_intact_and_1_with_the_damage_named()
    {
        using var temp = new TempFolder();
        var tensors = CheckpointTestData.Descriptors();
        var path = CheckpointTestData.Write(temp.Sub("ckpt"), tensors, CheckpointTestData.RandomData(tensors, 2));
        var (ok, okOutput) = Invoke("checkpoint", "verify", path);
        Assert.Equal(0, ok);
        Assert.Contains("OK", okOutput);

        var shard = Path.Combine(path, CheckpointFormat.ShardFileName(0));
        var bytes = File.ReadAllBytes(shard);
        bytes[^1] ^= 0xff;
        File.WriteAllBytes(shard, bytes);
        var (bad, badOutput) = Invoke("checkpoint", "verify", path);
        Assert.Equal(1, bad);
        Assert.Contains("ChecksumMismatch", badOutput);
        Assert.Contains(CheckpointFormat.ShardFileName(0), badOutput);

        var (missing, _) = Invoke("checkpoint", "verify", temp.Sub("nowhere"));
        Assert.Equal(2, missing);
    }

    [Fact]
    public void Convert_goes_both_ways_and_needs_a_spec_for_foreign_safetensors()
    {
        using var temp = new TempFolder();
        var (file, data) = SafeTensorsTests.ForeignFile(seed: 3);
        File.WriteAllBytes(temp.Sub("in.safetensors"), file);

        var (noSpec, noSpecOutput) = Invoke("convert", temp.Sub("in.safetensors"), temp.Sub("ckpt"));
        Assert.Equal(2, noSpec);
        Assert.Contains("--spec-name", noSpecOutput);

        var (toCheckpoint, _) = Invoke("convert", temp.Sub("in.safetensors"), temp.Sub("ckpt"), "--spec-name", "S", "--spec-hash", "H", "--shard-size", "128B");
        Assert.Equal(0, toCheckpoint);
        using (var reader = CheckpointReader.Open(temp.Sub("ckpt")))
        {
            Assert.Equal(new SpecIdentity("S", "H"), reader.Spec);
            Assert.True(reader.Manifest.Shards.Count > 1);
        }

        var (back, _) = Invoke("convert", temp.Sub("ckpt"), temp.Sub("out.safetensors"));
        Assert.Equal(0, back);
        using var set = SafeTensorsSet.Open(temp.Sub("out.safetensors"));
        CheckpointTestData.AssertSameTensors(data, set.LoadAll());
    }

    [Theory]
    [InlineData("2GiB", 2L << 30)]
    [InlineData("512MiB", 512L << 20)]
    [InlineData("1000", 1000)]
    public void Shard_sizes_parse_with_binary_units(string text, long bytes) => Assert.Equal(bytes, ConvertCommand.ParseSize(text));
}
