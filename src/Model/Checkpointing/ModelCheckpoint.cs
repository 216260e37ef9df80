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
        CheckpointWriteOptions? options = null)
    {
        using var writer = CheckpointWriter.Create(path, new SpecIdentity(spec.Name, spec.SpecHash), options);
        foreach (var parameter in spec.Parameters)
            writer.WriteTensor(new TensorDescriptor(parameter.Name, TensorDType.F32, parameter.Shape.ToArray()), values(parameter));
        foreach (var (descriptor, data) in extraTensors ?? [])
            writer.WriteTensor(descriptor, data);
        return writer.Commit(metadata, state);
    }

    /// <summary>
    /// Writes every parameter of <paramref name="spec"/> as fp32, streamed by <paramref name="stream"/> in
    /// chunks of any size: for models whose tensors do not fit one array (OpenMoE-34B's expert stacks
    /// hold 2.4G elements). Atomic like the other overload.
    /// </summary>
    public static string Save(string path, ModelSpecInfo spec, Network.TensorStreamer stream, CheckpointMetadata metadata,
        CheckpointWriteOptions? options = null)
    {
        using var writer = CheckpointWriter.Create(path, new SpecIdentity(spec.Name, spec.SpecHash), options);
        foreach (var parameter in spec.Parameters)
        {
            var tensor = writer.BeginTensor(new TensorDescriptor(parameter.Name, TensorDType.F32, parameter.Shape.ToArray()));
            stream(parameter, chunk => tensor.Write(chunk));
            tensor.Complete();
        }
        return writer.Commit(metadata);
    }
}
