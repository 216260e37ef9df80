using System.Diagnostics;
using OpenMoE.Training.Data;
using OpenMoE.Model.Specs;
using OpenMoE.Training;
using OpenMoE.Runtime.Devices;
using OpenMoE.Runtime.Threading;
using OpenMoE.Tests.Data;

namespace OpenMoE.Tests.Training;

/// <summary>
/// Issue 6, "no allocation per step in steady state": after the first step of a batch shape, a
/// training step (forward, backward, routing, clipping and the optimizer on the device, step report,
/// metrics.jsonl line) allocates no device buffer and no managed memory of its own.
/// ILGPU's own per-launch allocations are measured and subtracted exactly (docs/benchmarks.md, "Training step throughput",
/// lists what is and is not counted). Each test uses a CPU device of its own: the
/// launch ledger takes over a private barrier of its accelerator. The class runs alone: counts of
/// all threads must not see other tests, and a lock contended by another test may allocate once.
/// </summary>
[Collection(AllocationMeasurement.Name)]
public sealed class SteadyStateAllocationTests : IDisposable
{
    private const int WarmupSteps = 2, MeasuredSteps = 3;
    private readonly string _root = Directory.CreateTempSubdirectory("openmoe-alloc-").FullName;
    private readonly ComputeDevice _device = DeviceFactory.Create(DeviceKind.Cpu);

    [Theory]
    [InlineData("OpenMoE-Tiny", "adafactor")] // multi-head attention as GEMMs, OpenMoE gated FFN
    [InlineData("Mixtral-Tiny", "adamw")] // grouped-query attention through the fused kernels
    [InlineData("DeepSeekMoE-Tiny", "adafactor")] // parallel shared experts
    public void Steady_training_steps_allocate_no_device_buffers(string spec, string optimizer)
    {
        using var trainer = new Trainer(Options(spec, optimizer), _device);
        using var metrics = new MetricsLog(Path.Combine(_root, spec), 0);
        var batch = Batch(trainer);
        for (int i = 0; i < WarmupSteps; i++)
            trainer.TrainStep(batch, metrics, Stopwatch.GetTimestamp());

        long before = _device.Allocations;
        for (int i = 0; i < MeasuredSteps; i++)
            trainer.TrainStep(batch, metrics, Stopwatch.GetTimestamp());
        Assert.Equal(0, _device.Allocations - before);
    }

    [Theory]
    [InlineData("OpenMoE-Tiny", "adafactor")]
    [InlineData("Mixtral-Tiny", "adamw")] // grouped-query attention through CpuAttention's worker threads
    [InlineData("DeepSeekMoE-Tiny", "adamw")]
    public void Steady_training_steps_allocate_no_managed_memory_beyond_ilgpu_launches(string spec, string optimizer)
    {
        using var trainer = new Trainer(Options(spec, optimizer), _device);
        using var metrics = new MetricsLog(Path.Combine(_root, spec), 0);
        var batch = Batch(trainer);
        using var ledger = new IlgpuLaunchLedger(_device.Accelerator);
        for (int i = 0; i < WarmupSteps; i++)
            trainer.TrainStep(batch, metrics, Stopwatch.GetTimestamp());

        ledger.Reset();
        long before = AllocatedByStepThreads();
        for (int i = 0; i < MeasuredSteps; i++)
            trainer.TrainStep(batch, metrics, Stopwatch.GetTimestamp());
        long allocated = AllocatedByStepThreads() - before;

        long launches = ledger.Launches, tasks = ledger.TaskBytes;
        long ours = allocated - tasks;
        Assert.True(launches > 0, "the ledger saw no kernel launch");
        Assert.True(ours == 0,
            $"{MeasuredSteps} steady steps allocated {allocated} bytes on the training thread and the host worker pool: ILGPU task objects of {launches} launches " +
            $"{tasks} B, leaving {ours} B allocated by the step itself.");
    }

    [Theory]
    [InlineData("OpenMoE-Tiny", "adafactor")]
    [InlineData("Mixtral-Tiny", "adamw")]
    public void Steady_training_steps_move_no_weights_or_gradients_between_host_and_device(string spec, string optimizer)
    {
        using var trainer = new Trainer(Options(spec, optimizer), _device);
        using var metrics = new MetricsLog(Path.Combine(_root, spec), 0);
        var batch = Batch(trainer);
        for (int i = 0; i < WarmupSteps; i++)
            trainer.TrainStep(batch, metrics, Stopwatch.GetTimestamp());

        long before = HostTransfers.Bytes;
        for (int i = 0; i < MeasuredSteps; i++)
            trainer.TrainStep(batch, metrics, Stopwatch.GetTimestamp());
        long perStep = (HostTransfers.Bytes - before) / MeasuredSteps;
        // What remains is the batch, routing metadata per MoE layer, the loss and the gradient norm;
        // one tensor of weights or gradients each way would be twice the weights' bytes.
        long weightBytes = trainer.ParameterCount * sizeof(float);
        Assert.True(perStep > 0, "no transfer was counted: the batch at least must go to the device");
        Assert.True(perStep * 50 < weightBytes, $"a step moved {perStep:N0} bytes between host and device; the weights are {weightBytes:N0} bytes");
    }

    [Theory]
    [InlineData("adafactor")]
    [InlineData("adamw")]
    public void Clipping_and_optimizer_steps_on_factored_tensors_allocate_nothing(string name)
    {
        // The tiny specs' matrices are below Adafactor's factoring threshold (128): this covers the factored path.
        ParameterInfo[] tensors = [new("stack", [2, 128, 136], 0, ParameterRole.ExpertGate, -1), new("norm", [136], -1, ParameterRole.FinalNorm, -1)];
        using var harness = new OptimizerHarness(_device, tensors, Array.ConvertAll(tensors, p => Enumerable.Repeat(0.1f, (int)p.Elements).ToArray()),
            Array.ConvertAll(tensors, p => Enumerable.Repeat(0.5f, (int)p.Elements).ToArray()));
        using var optimizer = Optimizers.Create(name, _device, tensors);
        using var clipping = new GradientClipping(_device, harness.Parameters);
        void Step(long step)
        {
            clipping.Clip(harness.Parameters, 1.0);
            optimizer.Step(harness.Parameters, step, 1e-3);
        }
        Step(1);

        long before = AllocatedByStepThreads(), buffers = _device.Allocations;
        for (int step = 2; step <= 4; step++)
            Step(step);
        Assert.Equal(0, AllocatedByStepThreads() - before);
        Assert.Equal(0, _device.Allocations - buffers);
    }

    /// <summary>
    /// Managed bytes allocated so far by the threads that run our step code: this one and the worker
    /// threads of every <see cref="HostWorkerPool"/> (SIMD GEMM, CPU attention).
    /// Not the whole process: the test host reports results on its own threads meanwhile, and ILGPU's
    /// worker threads run only ILGPU.
    /// </summary>
    private static long AllocatedByStepThreads() =>
        GC.GetAllocatedBytesForCurrentThread() + HostWorkerPool.WorkerAllocatedBytes;

    private TrainerOptions Options(string spec, string optimizer) => new()
    {
        Spec = spec, Data = RepositoryFiles.PathOf("data/corpus"), Out = Path.Combine(_root, spec), Steps = 100,
        Batch = 2, SequenceLength = 32, Objective = "causal", Optimizer = optimizer, LearningRate = 0.01, Warmup = 10, Seed = 3,
    };

    /// <summary>One fixed batch of random tokens with every position a target, repeated for every step.</summary>
    private static PackedBatch Batch(Trainer trainer)
    {
        var batch = new PackedBatch(2, 32, ["prose"], ["en"]);
        var random = new Random(7);
        int vocab = trainer.Spec.Config.Vocab;
        for (int i = 0; i < batch.Inputs.Length; i++)
        {
            batch.Inputs[i] = random.Next(vocab);
            batch.Labels[i] = random.Next(vocab);
            batch.LossMask[i] = 1;
        }
        return batch;
    }

    public void Dispose()
    {
        _device.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}

/// <summary>Tests that count allocations: xUnit runs this collection after the others, with nothing in parallel.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationMeasurement
{
    public const string Name = "Allocation measurement (runs alone)";
}
