using System.Diagnostics;
using System.Text.Json;
using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Bench.Checkpoints;

/// <summary>
/// Save/load throughput of a checkpoint against a plain sequential FileStream write/read of the
/// same bytes in the same run, plus managed memory allocated while loading. Prints JSON.
/// Usage: checkpoint [--base] [--vocab N] [--layers N] [--experts N] [--shard-mb N] [--reps N] [--dir PATH] [--no-fsync]
/// Default: Base/16E dimensions with vocab 32768, 4 layers, 4 experts (~440 MB); --base: the full Base/16E.
/// </summary>
public static class CheckpointBench
{
    /// <summary>Runs the bench; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var full = args.Contains("--base");
        int Arg(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
        var vocab = Arg("--vocab", full ? 256384 : 32768);
        var layers = Arg("--layers", full ? 12 : 4);
        var experts = Arg("--experts", full ? 16 : 4);
        var shardBytes = (long)Arg("--shard-mb", 2048) << 20;
        var reps = Arg("--reps", 3);
        var durable = !args.Contains("--no-fsync");
        var root = Array.IndexOf(args, "--dir") is var d and >= 0 ? args[d + 1] : Path.Combine(Path.GetTempPath(), "openmoe-ckpt-bench");

        var tensors = BenchLayout.Build(vocab, hidden: 768, ffn: 2048, heads: 12, headDim: 64, layers, moeInterval: 4, experts);
        var total = tensors.Sum(t => t.ByteLength);
        var largest = tensors.Max(t => t.ByteLength);
        var source = new byte[largest];
        new Random(1).NextBytes(source);
        var destination = new byte[largest];
        Directory.CreateDirectory(root);
        var plainFile = Path.Combine(root, "plain.bin");
        var spec = new SpecIdentity("bench", "bench");

        double plainWrite = double.MaxValue, plainRead = double.MaxValue, save = double.MaxValue, load = double.MaxValue, verifyLoad = double.MaxValue;
        double cpuPlainWrite = 0, cpuSave = 0, cpuPlainRead = 0, cpuLoad = 0, cpuVerifyLoad = 0;
        long loadAllocated = 0;
        for (var rep = 0; rep < reps; rep++)
        {
            var checkpoint = Path.Combine(root, $"ckpt-{rep}");
            var w = Time(() => PlainWrite(plainFile, tensors, source, durable), ref cpuPlainWrite);
            var s = Time(() => Save(checkpoint, spec, tensors, source, shardBytes, durable), ref cpuSave);
            var r = Time(() => PlainRead(plainFile, tensors, destination), ref cpuPlainRead);
            var before = GC.GetTotalAllocatedBytes(precise: true);
            var l = Time(() => Load(checkpoint, destination, verifyFirst: false), ref cpuLoad);
            loadAllocated = Math.Max(loadAllocated, GC.GetTotalAllocatedBytes(precise: true) - before);
            var v = Time(() => Load(checkpoint, destination, verifyFirst: true), ref cpuVerifyLoad);
            Console.Error.WriteLine($"rep {rep}: plain write {w:F3}s, save {s:F3}s, plain read {r:F3}s, load {l:F3}s, verify+load {v:F3}s");
            (plainWrite, save, plainRead, load, verifyLoad) =
                (Math.Min(plainWrite, w), Math.Min(save, s), Math.Min(plainRead, r), Math.Min(load, l), Math.Min(verifyLoad, v));
            Directory.Delete(checkpoint, recursive: true);
            File.Delete(plainFile);
        }

        double Gbps(double seconds) => total / seconds / 1e9;
        var result = new
        {
            bench = "checkpoint",
            layout = full ? "OpenMoE-Base/16E" : "OpenMoE-Base/16E dims, reduced",
            vocab, layers, experts,
            parameters = total / 4,
            bytes = total,
            shard_limit_bytes = shardBytes,
            reps,
            fsync = durable,
            plain_write_gbps = Gbps(plainWrite),
            save_gbps = Gbps(save),
            save_ratio = plainWrite / save,
            plain_read_gbps = Gbps(plainRead),
            load_gbps = Gbps(load),
            load_ratio = plainRead / load,
            verify_then_load_gbps = Gbps(verifyLoad),
            verify_then_load_ratio = plainRead / verifyLoad,
            cpu_seconds_per_rep = new
            {
                plain_write = cpuPlainWrite / reps, save = cpuSave / reps,
                plain_read = cpuPlainRead / reps, load = cpuLoad / reps, verify_then_load = cpuVerifyLoad / reps,
            },
            processors = Environment.ProcessorCount,
            load_allocated_bytes = loadAllocated,
            load_allocated_within_one_shard = loadAllocated <= shardBytes,
        };
        Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    /// <summary>Wall seconds of <paramref name="action"/>; its CPU seconds are added to <paramref name="cpuSeconds"/>.</summary>
    private static double Time(Action action, ref double cpuSeconds)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        action();
        cpuSeconds += (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>The reference: one file, tensors written back to back, flushed to disk like a checkpoint save.</summary>
    private static void PlainWrite(string path, List<TensorDescriptor> tensors, byte[] source, bool durable)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        foreach (var t in tensors) file.Write(source, 0, (int)t.ByteLength);
        file.Flush(durable);
    }

    private static void PlainRead(string path, List<TensorDescriptor> tensors, byte[] destination)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        foreach (var t in tensors) file.ReadExactly(destination, 0, (int)t.ByteLength);
    }

    private static void Save(string path, SpecIdentity spec, List<TensorDescriptor> tensors, byte[] source, long shardBytes, bool durable)
    {
        using var writer = CheckpointWriter.Create(path, spec, new CheckpointWriteOptions { MaxShardBytes = shardBytes, Durable = durable });
        foreach (var t in tensors) writer.WriteTensor(t, source.AsSpan(0, (int)t.ByteLength));
        writer.Commit(CheckpointMetadata.Now(0));
    }

    private static void Load(string path, byte[] destination, bool verifyFirst)
    {
        using var reader = CheckpointReader.Open(path);
        if (verifyFirst) reader.VerifyChecksums();
        foreach (var t in reader.Tensors) reader.ReadTensor(t.Name, destination.AsSpan(0, (int)t.ByteLength));
    }
}
