using System.Diagnostics;
using System.Text.Json;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Checkpoints;
using OpenMoE.Runtime.Devices;
using OpenMoE.Tests.Checkpoints;
using OpenMoE.Tests.Data;
using OpenMoE.Training;

namespace OpenMoE.Tests.Cli;

/// <summary>
/// Run folders protect themselves: a fresh run never reuses a folder silently, a second process is
/// refused, a killed one's lock is taken over, leftovers of interrupted saves and rotations are
/// removed and named, --resume skips damaged checkpoints, and a full disk fails with the last good
/// checkpoint named and nothing left behind.
/// </summary>
public sealed class RunFolderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("openmoe-run-folder-").FullName;
    private static string Corpus => RepositoryFiles.PathOf("data/corpus");

    private string Run(string name) => Path.Combine(_root, name);

    private static string[] Train(string run, int steps, params string[] more) => TrainEvery(run, steps, 1, more);

    private static string[] TrainEvery(string run, int steps, int every, params string[] more) =>
        ["train", "--data", Corpus, "--out", run, "--steps", $"{steps}", "--batch", "2", "--seq", "16", "--checkpoint-every", $"{every}",
         "--switch-step", "1", "--warmup", "10", "--device", "cpu", .. more];

    private static CliRunner.Result Ok(CliRunner.Result result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }

    private static long[] Steps(string run) =>
        new CheckpointRun(Path.Combine(run, "checkpoints")).List().Select(c => c.Step).ToArray();

    private static long[] MetricSteps(string run) =>
        File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt64()).ToArray();

    [Fact]
    public void A_fresh_run_into_a_folder_holding_a_run_refuses_and_leaves_it_intact()
    {
        var run = Run("refuse");
        Ok(CliRunner.Invoke(Train(run, 3)));
        var metrics = File.ReadAllText(Path.Combine(run, "metrics.jsonl"));

        var again = CliRunner.Invoke(Train(run, 2));
        Assert.Equal(2, again.ExitCode);
        var line = Assert.Single(again.ErrorLines);
        Assert.Contains("already holds a run (checkpoints up to step 3)", line);
        Assert.Contains("--resume", line);
        Assert.Contains("--overwrite", line);
        Assert.Equal(metrics, File.ReadAllText(Path.Combine(run, "metrics.jsonl")));
        Assert.Equal([1L, 2, 3], Steps(run));

        var demo = CliRunner.Invoke("demo", "--data", Corpus, "--out", run, "--steps", "1", "--batch", "2", "--seq", "16");
        Assert.Equal(2, demo.ExitCode);
        Assert.Contains("already holds a run", Assert.Single(demo.ErrorLines));
    }

    [Fact]
    public void Overwrite_replaces_the_run_and_keeps_the_checkpoint_it_writes()
    {
        var run = Run("overwrite");
        Ok(CliRunner.Invoke(Train(run, 4)));
        var result = Ok(CliRunner.Invoke(Train(run, 1, "--overwrite", "--keep-checkpoints", "1")));
        Assert.Contains("--overwrite: deleted the previous run", result.Out);
        Assert.Contains("step 1/1 loss ", result.Out);   // piped output: plain progress lines with an ETA
        Assert.Contains(" ETA 0:00:00", result.Out);
        Assert.Equal([1L], Steps(run));
        Assert.Equal([1L], MetricSteps(run));
    }

    [Fact]
    public void Rotation_never_deletes_the_checkpoint_just_written()
    {
        var folder = new CheckpointRun(Run("rotation"), keepLast: 2);
        foreach (long step in new long[] { 5, 6, 7, 1 })
            CheckpointTestData.Write(folder.PathForStep(step), CheckpointTestData.Descriptors(), CheckpointTestData.RandomData(CheckpointTestData.Descriptors(), (int)step));
        var deleted = folder.Rotate(justWritten: folder.PathForStep(1));
        Assert.Equal([folder.PathForStep(5), folder.PathForStep(6)], deleted);
        Assert.Equal([1L, 7], folder.List().Select(c => c.Step));
    }

    [Fact]
    public void Resume_falls_back_past_a_damaged_checkpoint_and_names_it()
    {
        var run = Run("fallback");
        Ok(CliRunner.Invoke(Train(run, 3)));
        var latest = Path.Combine(run, "checkpoints", "step-00000003");
        var shard = Path.Combine(latest, CheckpointFormat.ShardFileName(0));
        var bytes = File.ReadAllBytes(shard);
        bytes[bytes.Length / 2] ^= 0x5a;
        File.WriteAllBytes(shard, bytes);

        var result = Ok(CliRunner.Invoke(Train(run, 4, "--resume")));
        Assert.Contains("skipped step-00000003", result.Out);
        Assert.Contains("resumed at step 2", result.Out);
        Assert.Equal([1L, 2, 3, 4], MetricSteps(run));
    }

    [Fact]
    public void Resume_with_another_spec_is_one_error_naming_both()
    {
        var run = Run("other-spec");
        Ok(CliRunner.Invoke(Train(run, 1)));
        var result = CliRunner.Invoke(Train(run, 2, "--resume", "--spec", "Mixtral-Tiny"));
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains("--resume", line);
        Assert.Contains("OpenMoE-Tiny", line);
        Assert.Contains("Mixtral-Tiny", line);
        Assert.DoesNotContain("   at ", result.Err);
    }

    [Fact]
    public void Leftovers_of_interrupted_saves_and_rotations_are_removed_at_start_and_named()
    {
        var run = Run("leftovers");
        Ok(CliRunner.Invoke(Train(run, 1)));
        var checkpoints = Path.Combine(run, "checkpoints");
        string[] leftovers = [".step-00000002.partial-0123abcd", ".step-00000001.deleting-4567ef", "step-00000009"];
        foreach (var name in leftovers)
            File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(checkpoints, name)).FullName, "shard-00000.msgpack"), "half");

        var result = Ok(CliRunner.Invoke(Train(run, 2, "--resume")));
        foreach (var name in leftovers)
        {
            Assert.Contains($"removed {name}", result.Out);
            Assert.False(Directory.Exists(Path.Combine(checkpoints, name)));
        }
        Assert.Equal([1L, 2], Steps(run));
    }

    [Fact]
    public void Run_folders_work_wherever_a_checkpoint_does()
    {
        var run = Run("as-weights");
        Ok(CliRunner.Invoke(Train(run, 1)));
        Assert.Contains("step-00000001", Ok(CliRunner.Invoke("checkpoint", "info", run, "--no-verify")).Out);
        Ok(CliRunner.Invoke("checkpoint", "verify", run));
        Ok(CliRunner.Invoke("generate", "--weights", run, "--device", "cpu", "--prompt", "The", "--max-new-tokens", "2", "--temperature", "0"));
        Assert.Equal(Path.Combine(run, "checkpoints", "step-00000001"), CheckpointRun.Resolve(Path.Combine(run, "latest")));
    }

    // Output is drained as it comes (a full pipe would stall the child) and kept for failure messages.
    private static Process StartTrain(string run, int steps, System.Text.StringBuilder log)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "openmoe.dll"));
        foreach (var arg in TrainEvery(run, steps, 5))
            info.ArgumentList.Add(arg);
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    [Fact]
    public void A_second_process_on_a_run_folder_is_refused_and_a_killed_ones_lock_is_taken_over()
    {
        var run = Run("two-processes");
        var log = new System.Text.StringBuilder();
        using var first = StartTrain(run, 100_000, log);
        try
        {
            var metrics = Path.Combine(run, "metrics.jsonl");
            var clock = Stopwatch.StartNew();
            while (!(File.Exists(metrics) && Steps(run).Length > 0) && clock.Elapsed < TimeSpan.FromSeconds(120) && !first.HasExited)
                Thread.Sleep(50);
            if (first.HasExited)
                Assert.Fail($"the first train process exited early ({first.ExitCode}): {log}");

            var second = CliRunner.Invoke(Train(run, 3, "--resume"));
            Assert.Equal(1, second.ExitCode);
            var line = Assert.Single(second.ErrorLines);
            Assert.Contains("is in use by another openmoe process", line);
            Assert.Contains($"process {first.Id}", line);
        }
        finally
        {
            first.Kill(entireProcessTree: true);
            first.WaitForExit();
        }

        long last = Steps(run)[^1];
        var third = Ok(CliRunner.Invoke(Train(run, (int)last + 2, "--resume")));
        Assert.Contains($"took over the lock of {run} left by process {first.Id}", third.Out);
        Assert.Equal(Enumerable.Range(1, (int)last + 2).Select(s => (long)s), MetricSteps(run));
    }

    [Fact]
    public void A_rotation_that_dies_mid_delete_leaves_only_checkpoints_that_verify()
    {
        // The deleter removes every shard but keeps the manifest, then dies: deleting in place would
        // leave a listed step folder whose shards are gone. Rotation renames the folder out of the
        // listing first, so what is listed still verifies and the remains are a leftover.
        var dir = Run("rotation-dies");
        var run = new CheckpointRun(dir, keepLast: 2)
        {
            DeleteFolder = path =>
            {
                foreach (var file in Directory.GetFiles(path).Where(f => Path.GetFileName(f) != CheckpointFormat.ManifestFileName))
                    File.Delete(file);
                throw new IOException("killed during the delete");
            },
        };
        var tensor = new float[32];
        for (long step = 1; step <= 3; step++)
        {
            using (var writer = CheckpointWriter.Create(run.PathForStep(step), new SpecIdentity("Victim", "hash"), new CheckpointWriteOptions { MaxShardBytes = 256, Durable = false }))
            {
                for (int i = 0; i < 4; i++)
                    writer.WriteTensor(new TensorDescriptor($"t{i}", TensorDType.F32, tensor.Length), tensor);
                writer.Commit(CheckpointMetadata.Now(step));
            }
            if (step == 3)
                Assert.Throws<IOException>(() => run.Rotate(justWritten: run.PathForStep(step)));
        }

        Assert.Equal([2L, 3L], run.List().Select(c => c.Step));
        foreach (var (_, path) in run.List())
        {
            using var reader = CheckpointReader.Open(path);
            reader.VerifyChecksums();
        }
        Assert.Single(run.RemoveLeftovers());
        Assert.All(Directory.GetDirectories(dir), d => Assert.StartsWith("step-", Path.GetFileName(d)));
    }

    [Fact]
    public void A_kill_during_rotation_never_leaves_a_listed_checkpoint_that_fails_to_verify()
    {
        var random = new Random(17);
        for (int round = 0; round < 4; round++)
        {
            var dir = Run($"rotation-kill-{round}");
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in new[] { CheckpointAtomicityTests.VictimDll(), "rotate", dir, "300" })
                info.ArgumentList.Add(arg);
            using var victim = Process.Start(info)!;
            try
            {
                int target = 3 + round;
                while (victim.StandardOutput.ReadLine() is { } line && line != $"rotating {target}")
                {
                }
                Thread.Sleep(random.Next(0, 4));
            }
            finally
            {
                victim.Kill(entireProcessTree: true);
                victim.WaitForExit();
            }

            var folder = new CheckpointRun(dir, keepLast: 2);
            foreach (var (_, path) in folder.List())
            {
                using var reader = CheckpointReader.Open(path);
                reader.VerifyChecksums();
            }
            folder.RemoveLeftovers();
            Assert.All(Directory.GetDirectories(dir), d => Assert.StartsWith("step-", Path.GetFileName(d)));
            Assert.NotEmpty(folder.List());
        }
    }

    [Fact]
    public void A_full_disk_fails_the_save_naming_the_last_good_checkpoint_and_leaves_nothing_behind()
    {
        var disk = Run("disk");
        Directory.CreateDirectory(disk);
        bool tmpfs = SmallTmpfs.TryMount(disk, megabytes: 12);
        try
        {
            var spec = ModelSpecs.Find("OpenMoE-Tiny");
            var options = new TrainerOptions
            {
                Spec = spec.Name, Data = Corpus, Out = Path.Combine(disk, "run"), Steps = 3, Batch = 2, SequenceLength = 16,
                Objective = "causal", Warmup = 10, CheckpointEvery = 1,
            };
            // On the tmpfs the real free space decides; elsewhere the store sees a disk with room for one checkpoint.
            long oneCheckpoint = 9L << 20;
            Func<string, long>? free = tmpfs ? null : _ => Directory.Exists(Path.Combine(options.Out, "checkpoints", "step-00000001")) ? oneCheckpoint / 4 : oneCheckpoint;
            using var device = DeviceFactory.Create(DeviceKind.Cpu);
            using (var trainer = new Trainer(options, device, new CheckpointTrainingStore(spec, options.Out, 3, free)))
            {
                var error = Assert.Throws<RunFolderException>(() => trainer.Run());
                Assert.Contains("Saving the checkpoint of step", error.Message);
                Assert.Contains("Not enough free space", error.Message);
                Assert.Contains("The last good checkpoint is step", error.Message);
                Assert.Contains("--resume", error.Message);
            }
            var checkpoints = Path.Combine(options.Out, "checkpoints");
            Assert.All(Directory.GetDirectories(checkpoints), d => Assert.StartsWith("step-", Path.GetFileName(d)));

            if (tmpfs)
            {
                // Past the free-space check (told the disk is empty), the write itself hits ENOSPC: the partial folder goes too.
                using var trainer = new Trainer(options with { Resume = true, Steps = 10 }, device, new CheckpointTrainingStore(spec, options.Out, 3, _ => long.MaxValue));
                var error = Assert.Throws<RunFolderException>(() => trainer.Run());
                Assert.Contains("The last good checkpoint is step", error.Message);
                Assert.All(Directory.GetDirectories(checkpoints), d => Assert.StartsWith("step-", Path.GetFileName(d)));
            }
        }
        finally
        {
            if (tmpfs) SmallTmpfs.Unmount(disk);
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>A small tmpfs for the full-disk test, where the machine lets us mount one (root in a container); else the test simulates it.</summary>
internal static class SmallTmpfs
{
    public static bool TryMount(string directory, int megabytes) => Run("mount", "-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", directory);

    public static void Unmount(string directory) => Run("umount", directory);

    private static bool Run(string tool, params string[] args)
    {
        try
        {
            var info = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var arg in args) info.ArgumentList.Add(arg);
            using var process = Process.Start(info)!;
            process.WaitForExit();
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
