using System.Diagnostics;
using OpenMoE.Tests.Data;
using OpenMoE.Training;

namespace OpenMoE.Tests.Training;

/// <summary>
/// A training checkpoint streams every tensor between the device and the files in pieces: neither a
/// save nor a resume holds a host copy of the model or the optimizer state (a save's copy doubled the
/// training peak before; a resume's added as much again).
/// </summary>
public sealed class CheckpointSaveMemoryTests
{
    [Theory]
    [InlineData("adamw")]
    [InlineData("adafactor")]
    public void A_save_allocates_far_less_than_the_weights_and_optimizer_state(string optimizer)
    {
        var root = Directory.CreateTempSubdirectory("openmoe-save-memory-").FullName;
        try
        {
            using var device = OpenMoE.Runtime.Devices.DeviceFactory.Create(OpenMoE.Runtime.Devices.DeviceKind.Cpu);
            var options = new TrainerOptions
            {
                Spec = "OpenMoE-Tiny", Data = RepositoryFiles.PathOf("data/corpus"), Out = root, Steps = 10,
                Batch = 1, SequenceLength = 16, Objective = "causal", Optimizer = optimizer, Seed = 3,
            };
            using var trainer = new Trainer(options, device);
            trainer.Save();   // first save: JIT and the writer's first-use work
            long stateBytes = OpenMoE.Training.Planning.MemoryPlanner.OptimizerStateBytes(trainer.Spec.Parameters, optimizer);
            long modelBytes = 4 * trainer.ParameterCount + stateBytes;

            long before = GC.GetAllocatedBytesForCurrentThread();
            trainer.Save();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            // What remains is one reused piece each for the weights and the state (the largest tensor, at most 4 MiB) and the writer.
            Assert.True(allocated * 2 < modelBytes, $"a save allocated {allocated:N0} B on the host; weights and optimizer state are {modelBytes:N0} B");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Theory]
    [InlineData("adamw")]
    [InlineData("adafactor")]
    public void A_resume_allocates_far_less_than_the_weights_and_optimizer_state(string optimizer)
    {
        var root = Directory.CreateTempSubdirectory("openmoe-resume-memory-").FullName;
        try
        {
            using var device = OpenMoE.Runtime.Devices.DeviceFactory.Create(OpenMoE.Runtime.Devices.DeviceKind.Cpu);
            TrainerOptions Options(string run) => new()
            {
                Spec = "OpenMoE-Tiny", Data = RepositoryFiles.PathOf("data/corpus"), Out = Path.Combine(root, run), Steps = 10,
                Batch = 1, SequenceLength = 16, Objective = "causal", Optimizer = optimizer, Seed = 3,
            };
            long largestTensor;
            using (var first = new Trainer(Options("saved"), device))
            {
                first.Save();
                largestTensor = 4 * first.Spec.Parameters.Max(p => p.Elements);
            }
            using (new Trainer(Options("warm") with { Resume = false }, device)) { }
            using (new Trainer(Options("saved") with { Resume = true }, device)) { }   // first resume: JIT of the reading code

            long before = GC.GetAllocatedBytesForCurrentThread();
            using (new Trainer(Options("fresh"), device)) { }
            long fresh = GC.GetAllocatedBytesForCurrentThread() - before;
            before = GC.GetAllocatedBytesForCurrentThread();
            using (new Trainer(Options("saved") with { Resume = true }, device)) { }
            long resume = GC.GetAllocatedBytesForCurrentThread() - before;
            // Beyond what a fresh start allocates, a resume reads through pooled piece buffers: less than one
            // copy of its largest tensor (a host copy of the weights alone would be all of them).
            Assert.True(resume - fresh < largestTensor, $"a resume allocated {resume - fresh:N0} B more than a fresh start; the largest tensor has {largestTensor:N0} B");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
