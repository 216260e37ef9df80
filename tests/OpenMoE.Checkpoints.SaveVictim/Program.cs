using OpenMoE.Runtime.Checkpoints;

// Saves one step-named checkpoint into a run folder slowly, announcing each tensor on stdout,
// so a test can kill this process in the middle of the save.
// Usage: SaveVictim RUN_DIR STEP TENSORS TENSOR_FLOATS DELAY_MS
if (args.Length != 5)
{
    Console.Error.WriteLine("usage: SaveVictim RUN_DIR STEP TENSORS TENSOR_FLOATS DELAY_MS");
    return 2;
}

var run = new CheckpointRun(args[0], keepLast: 2);
var step = long.Parse(args[1]);
var tensors = int.Parse(args[2]);
var floats = int.Parse(args[3]);
var delay = int.Parse(args[4]);

using var writer = CheckpointWriter.Create(run.PathForStep(step), new SpecIdentity("Victim", "hash"),
    new CheckpointWriteOptions { MaxShardBytes = 1L << 20 });
var values = new float[floats];
for (var i = 0; i < tensors; i++)
{
    Array.Fill(values, step * 1000 + i);
    writer.WriteTensor(new TensorDescriptor($"t{i}", TensorDType.F32, floats), values);
    Console.Out.WriteLine($"wrote {i}");
    Console.Out.Flush();
    Thread.Sleep(delay);
}
writer.Commit(CheckpointMetadata.Now(step));
run.Rotate();
Console.Out.WriteLine("committed");
return 0;
