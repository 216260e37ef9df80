using OpenMoE.Model.Network;
using OpenMoE.Model.Routing;
using OpenMoE.Runtime.Checkpoints;

namespace OpenMoE.Model.Checkpointing;

/// <summary>
/// The routing state a checkpoint carries besides the weights: the run's <c>--routing</c> rule (metadata
/// <see cref="RoutingKey"/>) and every MoE layer's expert bias (tensors <see cref="RoutingStateTensorNames"/>),
/// so that evaluation and generation of a bias-balanced model route as it was trained.
/// </summary>
public static class RoutingCheckpointState
{
    /// <summary>Metadata key of the routing override the run trained with (absent: the spec's rule).</summary>
    public const string RoutingKey = "openmoe.routing";

    /// <summary>The expert-bias tensors of <paramref name="bias"/> (by decoder layer), for <see cref="ModelCheckpoint.Save"/>.</summary>
    public static IEnumerable<(TensorDescriptor Descriptor, float[] Values)> Tensors(IReadOnlyDictionary<int, float[]> bias) =>
        bias.OrderBy(b => b.Key).Select(b => (new TensorDescriptor(RoutingStateTensorNames.ExpertBias(b.Key), TensorDType.F32, b.Value.Length), b.Value));

    /// <summary>The expert bias stored in <paramref name="reader"/>, by decoder layer (empty when it holds none).</summary>
    public static Dictionary<int, float[]> ReadBias(CheckpointReader reader)
    {
        var bias = new Dictionary<int, float[]>();
        foreach (var tensor in reader.Tensors.Where(t => RoutingStateTensorNames.IsRoutingState(t.Name)))
        {
            string layer = tensor.Name[(RoutingStateTensorNames.Prefix + "expert_bias/").Length..];
            if (!int.TryParse(layer, System.Globalization.CultureInfo.InvariantCulture, out int index))
                throw new CheckpointException(CheckpointErrorKind.UnexpectedTensor, reader.Path, tensor.Name, "no routing state has that name.", "Check that the checkpoint was written by openmoe.");
            var values = new float[tensor.ElementCount];
            reader.ReadTensor(tensor.Name, values);
            bias[index] = values;
        }
        return bias;
    }

    /// <summary>
    /// Gives <paramref name="model"/> the checkpoint's routing: its rule unless <paramref name="routing"/>
    /// overrides it, and its expert bias. A bias whose layers or size do not fit the model is an error.
    /// </summary>
    public static void Restore(MoeTransformer model, CheckpointReader? reader, RoutingOverride? routing)
    {
        if (reader is not null && routing is null && reader.Metadata.Extra.TryGetValue(RoutingKey, out var text))
            routing = RoutingOverride.Parse(text);
        model.RoutingOverride = routing;
        if (reader is null)
            return;
        var target = model.ExpertBias;
        foreach (var (layer, values) in ReadBias(reader))
        {
            if (!target.TryGetValue(layer, out var bias) || bias.Length != values.Length)
                throw new CheckpointException(CheckpointErrorKind.ShapeMismatch, reader.Path, RoutingStateTensorNames.ExpertBias(layer),
                    $"layer {layer} is no MoE layer of {model.Spec.Name} or has another expert count.", "Load it with the spec it was written for.");
            values.CopyTo(bias, 0);
        }
    }
}
