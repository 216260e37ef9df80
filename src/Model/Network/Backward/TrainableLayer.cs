using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Network.Backward;

/// <summary>
/// One decoder layer's parameters bound twice: to the weights and to the same-shaped gradient
/// buffers, so every projection has its gradient twin. Mirrors <see cref="DecoderLayer"/>.
/// </summary>
internal sealed class TrainableLayer
{
    public TrainableLayer(ModelConfig config, DeviceWeights weights, DeviceWeights gradients, int layer)
    {
        Index = layer;
        int d = config.Hidden, q = config.Heads * config.HeadDim, kv = config.KvHeads * config.HeadDim;
        Projection Linear(DeviceWeights w, ParameterRole role, int inF, int outF) => Projection.Linear(w.Get(layer, role), inF, outF);
        Query = (Linear(weights, ParameterRole.Query, d, q), Linear(gradients, ParameterRole.Query, d, q));
        Key = (Linear(weights, ParameterRole.Key, d, kv), Linear(gradients, ParameterRole.Key, d, kv));
        Value = (Linear(weights, ParameterRole.Value, d, kv), Linear(gradients, ParameterRole.Value, d, kv));
        Output = (Linear(weights, ParameterRole.AttentionOutput, q, d), Linear(gradients, ParameterRole.AttentionOutput, q, d));
        AttentionNorm = (weights.Get(layer, ParameterRole.AttentionNorm), gradients.Get(layer, ParameterRole.AttentionNorm));
        FfnNorm = (weights.Get(layer, ParameterRole.FfnNorm), gradients.Get(layer, ParameterRole.FfnNorm));
        if (!config.IsMoeLayer(layer))
        {
            Dense = Ffn(config, weights, gradients, layer, ParameterRole.DenseGate, ParameterRole.DenseUp, ParameterRole.DenseDown);
            return;
        }
        IsMoe = true;
        Router = (Linear(weights, ParameterRole.Router, d, config.Experts), Linear(gradients, ParameterRole.Router, d, config.Experts));
        bool stacked = weights.Parameters.Has(layer, ParameterRole.ExpertGate);
        Experts = Enumerable.Range(0, config.Experts).Select(e => stacked
            ? (FeedForward.StackedExpert(weights, config, layer, e), FeedForward.StackedExpert(gradients, config, layer, e))
            : (FeedForward.Linear(weights, config, layer, ParameterRole.ExpertGate, ParameterRole.ExpertUp, ParameterRole.ExpertDown, e),
               FeedForward.Linear(gradients, config, layer, ParameterRole.ExpertGate, ParameterRole.ExpertUp, ParameterRole.ExpertDown, e)))
            .ToArray();
        if (config.SharedExpertKind == SharedExpertKind.ParallelShared)
            Shared = Ffn(config, weights, gradients, layer, ParameterRole.SharedGate, ParameterRole.SharedUp, ParameterRole.SharedDown);
        if (config.SharedExpertKind == SharedExpertKind.SequentialExtraFfn)
        {
            Extra = Ffn(config, weights, gradients, layer, ParameterRole.ExtraGate, ParameterRole.ExtraUp, ParameterRole.ExtraDown);
            ExtraNorm = (weights.Get(layer, ParameterRole.ExtraNorm), gradients.Get(layer, ParameterRole.ExtraNorm));
        }
    }

    public int Index { get; }
    public bool IsMoe { get; }
    public (Projection W, Projection G) Query { get; }
    public (Projection W, Projection G) Key { get; }
    public (Projection W, Projection G) Value { get; }
    public (Projection W, Projection G) Output { get; }
    public (ArrayView<float> W, ArrayView<float> G) AttentionNorm { get; }
    public (ArrayView<float> W, ArrayView<float> G) FfnNorm { get; }
    public (FeedForward W, FeedForward G)? Dense { get; }
    public (Projection W, Projection G) Router { get; }
    public (FeedForward W, FeedForward G)[] Experts { get; } = [];
    public (FeedForward W, FeedForward G)? Shared { get; }
    public (FeedForward W, FeedForward G)? Extra { get; }
    public (ArrayView<float> W, ArrayView<float> G) ExtraNorm { get; }

    private static (FeedForward, FeedForward) Ffn(ModelConfig config, DeviceWeights weights, DeviceWeights gradients, int layer,
        ParameterRole gate, ParameterRole up, ParameterRole down) =>
        (FeedForward.Linear(weights, config, layer, gate, up, down), FeedForward.Linear(gradients, config, layer, gate, up, down));
}
