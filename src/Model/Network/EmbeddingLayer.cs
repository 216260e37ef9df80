using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Model.Network;

/// <summary>
/// The token embedding (DESIGN §2.1): x [N, D] = table [V, D] rows picked by the token ids, no
/// scaling. Its backward scatters d loss / d x into the table's gradient, grouped by token id on
/// the host so that each row of the table is summed by one thread, in a fixed order.
/// </summary>
internal sealed class EmbeddingLayer(ModelConfig config, DeviceWeights weights)
{
    private readonly ArrayView<float> _table = weights.Get(-1, ParameterRole.Embedding); // [V, D]

    /// <summary>x [N, D] (the workspace's residual stream "x") from the token ids [N] already on the device.</summary>
    public ArrayView<float> Forward(in ForwardPass pass, ArrayView<int> tokens)
    {
        int n = pass.Tokens, d = config.Hidden;
        var x = pass.Workspace.Get<float>("x", (long)n * d);
        pass.Kernels.Embedding(pass.Device.Ops, tokens, _table, x, n);
        return x;
    }

    /// <summary>The host-side grouping of token ids the backward needs, made once per network and reused.</summary>
    public sealed class BackwardStaging(ComputeDevice device, int vocab) : IDisposable
    {
        public int[] TokenCounts { get; } = new int[vocab];
        public PinnedHostArray<int> GroupIds { get; } = new(device.Accelerator, new int[vocab]);
        public PinnedHostArray<int> GroupStarts { get; } = new(device.Accelerator, new int[vocab + 1]);

        public void Dispose()
        {
            GroupIds.Dispose();
            GroupStarts.Dispose();
        }
    }

    /// <summary>The gradient's table [V, D] += dx [N, D] scattered by <paramref name="tokens"/> [N].</summary>
    public void Backward(in ForwardPass pass, EmbeddingLayer gradient, ReadOnlySpan<int> tokens, ArrayView<float> dx, BackwardStaging staging, HostStaging host)
    {
        int n = pass.Tokens, d = config.Hidden, v = config.Vocab;
        var ws = pass.Workspace;
        var positions = host.Get<int>("bw.emb.positions", n);
        int distinct = Kernels.Backward.EmbeddingBackward.GroupByToken(tokens, staging.TokenCounts, staging.GroupIds.Array,
            staging.GroupStarts.Array, positions.Array.AsSpan(0, n));
        // Sized for n (distinct <= n) so batches with more distinct tokens reuse the same buffers.
        var ids = ws.Get<int>("bw.emb.ids", n).SubView(0, distinct);
        var starts = ws.Get<int>("bw.emb.starts", n + 1).SubView(0, distinct + 1);
        var pos = ws.Get<int>("bw.emb.positions", n);
        staging.GroupIds.CopyTo(ids);
        staging.GroupStarts.CopyTo(starts);
        positions.CopyTo(pos);
        pass.Device.Backward.Embedding(ids, starts, pos, dx, gradient._table, distinct, n, d, v);
    }
}
