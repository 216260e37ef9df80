using OpenMoE.Runtime.Checkpoints;

// Saves one step-named checkpoint into a run folder slowly, announcing each tensor on stdout,
// so a test can kill this process in the middle of the save.
// Usage: SaveVictim RUN_DIR STEP TENSORS TENSOR_FLOATS DELAY_MS
// Or:    SaveVictim rotate RUN_DIR SHARDS: saves steps 1, 2, ... (each of SHARDS one-tensor shards, so
//        deleting one takes a while) with keep-last-2 rotation, printing "rotating N" before each
//        rotation, until killed (the kill-during-rotation test).
if (args is ["rotate", var rotateDir, var shardText])
{
    var rotating = new CheckpointRun(rotateDir, keepLast: 2);
    var shards = int.Parse(shardText);
    var tensor = new float[32];
    for (long s = 1; ; s++)
    {
        using (var w = CheckpointWriter.Create(rotating.PathForStep(s), new SpecIdentity("Victim", "hash"),
            new CheckpointWriteOptions { MaxShardBytes = 256, Durable = false }))
        {
            for (var i = 0; i < shards; i++)
            {
                Array.Fill(tensor, s * 1000 + i);
                w.WriteTensor(new TensorDescriptor($"t{i}", TensorDType.F32, tensor.Length), tensor);
            }
            w.Commit(CheckpointMetadata.Now(s));
        }
        Console.Out.WriteLine($"rotating {s}");
        Console.Out.Flush();
        rotating.Rotate(justWritten: rotating.PathForStep(s));
    }
}
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
