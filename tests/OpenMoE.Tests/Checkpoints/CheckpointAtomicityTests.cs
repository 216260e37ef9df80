using System.Diagnostics;
using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Tests.Checkpoints;

public class CheckpointAtomicityTests
{
    private const int Tensors = 40;
    private const int Floats = 64 * 1024;

    /// <summary>tests/OpenMoE.Checkpoints.SaveVictim output next to ours (same configuration and framework).</summary>
    internal static string VictimDll()
    {
        var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = framework.Parent!;
        var testsRoot = configuration.Parent!.Parent!.Parent!;
        var dll = Path.Combine(testsRoot.FullName, "OpenMoE.Checkpoints.SaveVictim", "bin", configuration.Name, framework.Name,
            "OpenMoE.Checkpoints.SaveVictim.dll");
        Assert.True(File.Exists(dll), $"build tests/OpenMoE.Checkpoints.SaveVictim first: {dll} is missing");
        return dll;
    }

    private static Process StartVictim(string runDir, long step, int delayMs)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { VictimDll(), runDir, step.ToString(), Tensors.ToString(), Floats.ToString(), delayMs.ToString() })
            info.ArgumentList.Add(arg);
        return Process.Start(info)!;
    }

    private static float[] LoadFirstTensor(string checkpoint)
    {
        using var reader = CheckpointReader.Open(checkpoint);
        reader.VerifyChecksums();
        var values = new float[Floats];
        reader.ReadTensor("t0", values);
        return values;
    }

    [Fact]
    public void Killing_the_process_mid_save_keeps_the_previous_checkpoint_as_latest()
    {
        using var temp = new TempFolder();
        var run = new CheckpointRun(temp.Sub("run"), keepLast: 2);

        using (var first = StartVictim(run.Directory, step: 1, delayMs: 0))
        {
            Assert.True(first.WaitForExit(60_000));
            Assert.Equal(0, first.ExitCode);
        }
        Assert.Equal(run.PathForStep(1), run.Latest());

        using (var victim = StartVictim(run.Directory, step: 2, delayMs: 25))
        {
            string? line;
            while ((line = victim.StandardOutput.ReadLine()) is not null && line != "wrote 10") { }
            Assert.Equal("wrote 10", line);
            victim.Kill(entireProcessTree: true);
            victim.WaitForExit();
        }

        var partial = Assert.Single(Directory.GetDirectories(run.Directory), d => d != run.PathForStep(1));
        Assert.True(CheckpointWriter.IsTemporaryName(Path.GetFileName(partial)));
        var notACheckpoint = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(partial));
        Assert.Equal(CheckpointErrorKind.NotFound, notACheckpoint.Kind);
        Assert.Equal(run.PathForStep(1), run.Latest());
        Assert.Equal(run.PathForStep(1), CheckpointRun.Resolve(run.Directory));
        Assert.All(LoadFirstTensor(run.Latest()!), v => Assert.Equal(1000f, v));
    }

    [Fact]
    public void Rotation_keeps_the_newest_N_and_latest_resolves_to_the_highest_step()
    {
        using var temp = new TempFolder();
        var run = new CheckpointRun(temp.Sub("run"), keepLast: 2);
        var t = new TensorDescriptor("w", TensorDType.F32, 4);
        foreach (var step in new long[] { 5, 100, 20, 7 })
        {
            using var writer = CheckpointWriter.Create(run.PathForStep(step), CheckpointTestData.Spec, new CheckpointWriteOptions { Durable = false });
            writer.WriteTensor(t, new float[] { step, step, step, step });
            writer.Commit(CheckpointMetadata.Now(step));
        }
        Directory.CreateDirectory(Path.Combine(run.Directory, $".step-00000200{CheckpointWriter.TemporaryMarker}abc"));
        Directory.CreateDirectory(Path.Combine(run.Directory, "step-00000300"));

        Assert.Equal(run.PathForStep(100), run.Latest());
        Assert.Equal(run.PathForStep(100), CheckpointRun.Resolve(Path.Combine(run.Directory, "latest")));
        var deleted = run.Rotate();
        Assert.Equal([run.PathForStep(5), run.PathForStep(7)], deleted);
        Assert.Equal([20L, 100L], run.List().Select(c => c.Step));
        Assert.Throws<CheckpointException>(() => CheckpointRun.Resolve(temp.Sub("nothing")));
    }
}
