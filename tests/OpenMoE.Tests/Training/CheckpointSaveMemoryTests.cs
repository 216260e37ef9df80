using System.Diagnostics;
using OpenMoE.Tests.Data;
using OpenMoE.Training;

namespace OpenMoE.Tests.Training;

/// <summary>
/// A training checkpoint streams every tensor from the device in pieces: a save never holds a host
/// copy of the model or the optimizer state (which doubled the training peak before).
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
}
