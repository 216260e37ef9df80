using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Model.Checkpointing;

/// <summary>Saves a model's parameters (and optionally training state) in the MessagePack checkpoint format.</summary>
public static class ModelCheckpoint
{
    /// <summary>
    /// Writes every parameter of <paramref name="spec"/> as fp32, asking <paramref name="values"/> for one
    /// tensor at a time, plus any <paramref name="extraTensors"/> (optimizer state); atomic (see
    /// <see cref="CheckpointWriter"/>). Returns the checkpoint folder.
    /// </summary>
    public static string Save(string path, ModelSpecInfo spec, Func<ParameterInfo, float[]> values, CheckpointMetadata metadata,
        TrainingState? state = null, IEnumerable<(TensorDescriptor Descriptor, float[] Values)>? extraTensors = null,
        CheckpointWriteOptions? options = null) =>
        Save(path, spec, (p, sink) => sink(values(p)), metadata, state,
            extraTensors?.Select(t => (t.Descriptor, (Action<Network.TensorChunkSink>)(sink => sink(t.Values)))), options);

    /// <summary>
    /// Writes every parameter of <paramref name="spec"/> as fp32, streamed by <paramref name="stream"/> in
    /// chunks of any size, then each of <paramref name="extraTensors"/> (optimizer state) streamed the same
    /// way: for models whose tensors do not fit one array (OpenMoE-34B's expert stacks hold 2.4G
    /// elements) and for saves straight from device buffers, which then never hold a whole tensor on
    /// the host. Atomic (see <see cref="CheckpointWriter"/>). Returns the checkpoint folder.
    /// </summary>
    public static string Save(string path, ModelSpecInfo spec, Network.TensorStreamer stream, CheckpointMetadata metadata,
        TrainingState? state = null, IEnumerable<(TensorDescriptor Descriptor, Action<Network.TensorChunkSink> Write)>? extraTensors = null,
        CheckpointWriteOptions? options = null)
    {
        using var writer = CheckpointWriter.Create(path, new SpecIdentity(spec.Name, spec.SpecHash), options);
        foreach (var parameter in spec.Parameters)
            Write(writer, new TensorDescriptor(parameter.Name, TensorDType.F32, parameter.Shape.ToArray()), sink => stream(parameter, sink));
        foreach (var (descriptor, write) in extraTensors ?? [])
            Write(writer, descriptor, write);
        return writer.Commit(metadata, state);
    }

    private static void Write(CheckpointWriter writer, TensorDescriptor descriptor, Action<Network.TensorChunkSink> write)
    {
        var tensor = writer.BeginTensor(descriptor);
        write(chunk => tensor.Write(chunk));
        tensor.Complete();
    }
}
