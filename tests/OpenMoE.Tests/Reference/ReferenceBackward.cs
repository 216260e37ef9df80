using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Reference;

/// <summary>Loss and the gradient of every parameter from one reference forward/backward.</summary>
public sealed record ReferenceGradients(ReferenceForwardResult Forward, double Loss, ReferenceWeights Gradients);

/// <summary>
/// Double-precision backward of <see cref="ReferenceModel.Forward"/> for
/// loss = CE + auxWeight * load-balance + zWeight * router z-loss. Routing decisions (top-k,
/// kept/dropped) are held fixed, as in every MoE implementation: dropped assignments get no
/// gradient, f_e in the load-balance loss is a constant, and gradients reach the router through
/// the combine weights, the mean probabilities P_e and the z-loss. Sublayer internals are
/// recomputed from the residual-stream trace of the forward.
/// </summary>
public static class ReferenceBackward
{
    /// <summary>Runs the forward and returns the total loss and d loss / d parameter for every tensor.</summary>
    public static ReferenceGradients Compute(ModelConfig config, ReferenceWeights weights, int[][] tokens, double capacityFactor,
        bool[][]? targetMask = null, double auxWeight = 0.01, double zWeight = 1e-4)
    {
        var forward = ReferenceModel.Forward(config, weights, tokens, capacityFactor, targetMask);
        var grads = ReferenceWeights.Zeros(config);
        int B = forward.Batch, T = forward.Time, N = B * T, D = config.Hidden, V = config.Vocab;

        // Cross-entropy: d/dlogits = (softmax - onehot) / count on counted rows.
        var dLogits = new double[N * V];
        for (int b = 0; b < B; b++)
            for (int t = 1; t < T; t++)
            {
                if (targetMask != null && !targetMask[b][t]) continue;
                int row = (b * T + t - 1) * V;
                var probabilities = ReferenceOps.Softmax(forward.Logits, row, V);
                for (int v = 0; v < V; v++) dLogits[row + v] = probabilities[v] / forward.TargetCount;
                dLogits[row + tokens[b][t]] -= 1.0 / forward.TargetCount;
            }

        string headName = config.TiedEmbeddings ? ReferenceNames.Embedding : ReferenceNames.LmHead;
        var finalNormWeight = weights[ReferenceNames.FinalNorm].Data;
        var finalNormed = ReferenceOps.RmsNorm(forward.FinalResidual, N, D, finalNormWeight, config.NormEps);
        var dNormed = ReferenceOpsBackward.Linear(finalNormed, N, D, weights[headName].Data, V, dLogits, grads[headName].Data);
        var dx = ReferenceOpsBackward.RmsNorm(forward.FinalResidual, N, D, finalNormWeight, config.NormEps, dNormed, grads[ReferenceNames.FinalNorm].Data);

        int moeLayerCount = forward.Routing.Count, moeIndex = moeLayerCount - 1;
        for (int layer = config.Layers - 1; layer >= 0; layer--)
        {
            string P(string suffix) => ReferenceNames.Layer(layer, suffix);
            var trace = forward.Layers[layer];
            if (config.IsMoeLayer(layer))
            {
                if (config.SharedExpertKind == SharedExpertKind.SequentialExtraFfn)
                    AddInPlace(dx, NormedFfnBackward(config, weights, grads, trace.ExtraFfnInput!, N, P("pre_extra_mlp_layernorm.weight"), P("extra_mlp"), dx));
                string normName = P("post_attention_layernorm.weight");
                var normed = ReferenceOps.RmsNorm(trace.FfnInput, N, D, weights[normName].Data, config.NormEps);
                var dMoeInput = MoeBackward(config, weights, grads, layer, normed, forward.Routing[moeIndex--], dx, auxWeight / moeLayerCount, zWeight / moeLayerCount);
                AddInPlace(dx, ReferenceOpsBackward.RmsNorm(trace.FfnInput, N, D, weights[normName].Data, config.NormEps, dMoeInput, grads[normName].Data));
            }
            else
            {
                AddInPlace(dx, NormedFfnBackward(config, weights, grads, trace.FfnInput, N, P("post_attention_layernorm.weight"), P("mlp"), dx));
            }

            string attentionNorm = P("input_layernorm.weight");
            var attentionNormed = ReferenceOps.RmsNorm(trace.AttentionInput, N, D, weights[attentionNorm].Data, config.NormEps);
            var dAttentionInput = AttentionBackward(config, weights, grads, layer, attentionNormed, B, T, dx);
            AddInPlace(dx, ReferenceOpsBackward.RmsNorm(trace.AttentionInput, N, D, weights[attentionNorm].Data, config.NormEps, dAttentionInput, grads[attentionNorm].Data));
        }

        var dEmbedding = grads[ReferenceNames.Embedding].Data;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int j = 0; j < D; j++)
                    dEmbedding[tokens[b][t] * D + j] += dx[(b * T + t) * D + j];

        return new ReferenceGradients(forward, forward.TotalLoss(auxWeight, zWeight), grads);
    }

    /// <summary>Backward of x -> Ffn(RmsNorm(x)) for a dense FFN named "{prefix}.*_proj". Returns the gradient wrt x. [N, D]</summary>
    private static double[] NormedFfnBackward(ModelConfig config, ReferenceWeights weights, ReferenceWeights grads, double[] input, int n, string normName, string prefix, double[] dOut)
    {
        int D = config.Hidden;
        var normed = ReferenceOps.RmsNorm(input, n, D, weights[normName].Data, config.NormEps);
        var dNormed = ReferenceOpsBackward.Ffn(config.FfnKind, normed, n, D,
            ReferenceModel.DenseFfnWeights(weights, prefix, config.Ffn), dOut, ReferenceModel.DenseFfnWeights(grads, prefix, config.Ffn));
        return ReferenceOpsBackward.RmsNorm(input, n, D, weights[normName].Data, config.NormEps, dNormed, grads[normName].Data);
    }

    /// <summary>Backward of the attention sublayer. normed, dOut [B*T, D] -> d normed [B*T, D].</summary>
    private static double[] AttentionBackward(ModelConfig config, ReferenceWeights weights, ReferenceWeights grads, int layer, double[] normed, int batch, int time, double[] dOut)
    {
        int N = batch * time, D = config.Hidden, H = config.Heads, KV = config.KvHeads, hd = config.HeadDim;
        string P(string suffix) => ReferenceNames.Layer(layer, suffix);
        double scale = ReferenceOps.AttentionLogitScale(config);
        var (q, k, v) = ReferenceModel.AttentionProjections(config, weights, layer, normed, batch, time);
        var attended = ReferenceOps.CausalAttention(q, k, v, batch, time, H, KV, hd, scale);
        var dAttended = ReferenceOpsBackward.Linear(attended, N, H * hd, weights[P("self_attn.o_proj.weight")].Data, D, dOut, grads[P("self_attn.o_proj.weight")].Data);
        var (dq, dk, dv) = ReferenceOpsBackward.CausalAttention(q, k, v, batch, time, H, KV, hd, scale, dAttended);
        for (int n = 0; n < N; n++)
        {
            int position = n % time;
            for (int h = 0; h < H; h++) ReferenceOpsBackward.RopeTranspose(dq, (n * H + h) * hd, hd, position, config.RopeTheta);
            for (int h = 0; h < KV; h++) ReferenceOpsBackward.RopeTranspose(dk, (n * KV + h) * hd, hd, position, config.RopeTheta);
        }
        var dNormed = ReferenceOpsBackward.Linear(normed, N, D, weights[P("self_attn.q_proj.weight")].Data, H * hd, dq, grads[P("self_attn.q_proj.weight")].Data);
        AddInPlace(dNormed, ReferenceOpsBackward.Linear(normed, N, D, weights[P("self_attn.k_proj.weight")].Data, KV * hd, dk, grads[P("self_attn.k_proj.weight")].Data));
        AddInPlace(dNormed, ReferenceOpsBackward.Linear(normed, N, D, weights[P("self_attn.v_proj.weight")].Data, KV * hd, dv, grads[P("self_attn.v_proj.weight")].Data));
        return dNormed;
    }

    /// <summary>
    /// Backward of the MoE sublayer with its routing fixed. normed, dOut [N, D] -> d normed [N, D].
    /// auxScale and zScale are the loss weights divided by the number of MoE layers.
    /// </summary>
    private static double[] MoeBackward(ModelConfig config, ReferenceWeights weights, ReferenceWeights grads, int layer, double[] normed,
        ReferenceMoeRouting routing, double[] dOut, double auxScale, double zScale)
    {
        int N = routing.Tokens.Length, D = config.Hidden, E = config.Experts, K = config.TopK, Fe = config.ExpertFfn;
        var layout = ReferenceLayouts.Of(config);
        var dNormed = new double[N * D];
        var dWeights = new double[N * K]; // d loss / d combine weight, 0 for dropped assignments

        for (int e = 0; e < E; e++)
        {
            var members = new List<(int Token, int Rank)>();
            for (int n = 0; n < N; n++)
                for (int r = 0; r < K; r++)
                    if (routing.Tokens[n].Experts[r] == e && routing.Tokens[n].Slots[r] >= 0) members.Add((n, r));
            if (members.Count == 0) continue;
            int m = members.Count;
            var gathered = new double[m * D];
            var dRows = new double[m * D];
            for (int i = 0; i < m; i++)
            {
                var (token, rank) = members[i];
                Array.Copy(normed, token * D, gathered, i * D, D);
                for (int j = 0; j < D; j++) dRows[i * D + j] = routing.Tokens[token].Weights[rank] * dOut[token * D + j];
            }
            var expertWeights = ReferenceModel.ExpertFfnWeights(config, weights, layer, e);
            var expertOutput = ReferenceOps.Ffn(config.FfnKind, gathered, m, D, expertWeights);
            var expertGrads = layout == ReferenceLayout.OpenMoE
                ? new FfnWeights(new double[2 * Fe * D], new double[Fe * D], new double[D * Fe], Fe)
                : ReferenceModel.ExpertFfnWeights(config, grads, layer, e);
            var dGathered = ReferenceOpsBackward.Ffn(config.FfnKind, gathered, m, D, expertWeights, dRows, expertGrads);
            if (layout == ReferenceLayout.OpenMoE)
            {
                // Gradients came out in [out, in] layout; the stacks are [E, in, out].
                AddTransposedIntoSlice(expertGrads.Gate, grads[ReferenceNames.Layer(layer, "mlp.experts.wi_gate")].Data, e, D, 2 * Fe);
                AddTransposedIntoSlice(expertGrads.Up, grads[ReferenceNames.Layer(layer, "mlp.experts.wi_up")].Data, e, D, Fe);
                AddTransposedIntoSlice(expertGrads.Down, grads[ReferenceNames.Layer(layer, "mlp.experts.wo")].Data, e, Fe, D);
            }
            for (int i = 0; i < m; i++)
            {
                var (token, rank) = members[i];
                double dot = 0;
                for (int j = 0; j < D; j++)
                {
                    dNormed[token * D + j] += dGathered[i * D + j];
                    dot += dOut[token * D + j] * expertOutput[i * D + j];
                }
                dWeights[token * K + rank] = dot;
            }
        }

        if (config.SharedExpertKind == SharedExpertKind.ParallelShared)
        {
            string prefix = ReferenceNames.Layer(layer, "mlp.shared_experts");
            int width = config.SharedExperts * config.SharedExpertFfn;
            AddInPlace(dNormed, ReferenceOpsBackward.Ffn(config.FfnKind, normed, N, D,
                ReferenceModel.DenseFfnWeights(weights, prefix, width), dOut, ReferenceModel.DenseFfnWeights(grads, prefix, width)));
        }

        // f_e (fraction of tokens with e in their top-k) is constant under the fixed routing.
        var fraction = new double[E];
        foreach (var token in routing.Tokens)
            foreach (var e in token.Experts) fraction[e] += 1.0 / N;

        var dRouterLogits = new double[N * E];
        for (int n = 0; n < N; n++)
        {
            var route = routing.Tokens[n];
            var p = route.Probabilities;
            var dp = new double[E];
            if (config.Gating == Gating.RawSoftmax)
            {
                for (int r = 0; r < K; r++) dp[route.Experts[r]] += dWeights[n * K + r];
            }
            else
            {
                // w_r = p_r / S with S the top-k sum: dp_j = dw_j / S - sum_r dw_r p_r / S^2.
                double sum = route.Experts.Sum(e => p[e]);
                double weighted = 0;
                for (int r = 0; r < K; r++) weighted += dWeights[n * K + r] * p[route.Experts[r]];
                for (int r = 0; r < K; r++) dp[route.Experts[r]] += dWeights[n * K + r] / sum - weighted / (sum * sum);
            }
            for (int e = 0; e < E; e++) dp[e] += auxScale * E * fraction[e] / N; // load balance through P_e
            double dot = 0;
            for (int e = 0; e < E; e++) dot += dp[e] * p[e];
            double lse = ReferenceOps.LogSumExp(route.RouterLogits, 0, E);
            for (int e = 0; e < E; e++)
                dRouterLogits[n * E + e] = p[e] * (dp[e] - dot) + zScale * 2.0 * lse * p[e] / N; // softmax backward + z-loss
        }
        string routerName = ReferenceModel.RouterName(layout, layer);
        AddInPlace(dNormed, ReferenceOpsBackward.Linear(normed, N, D, weights[routerName].Data, E, dRouterLogits, grads[routerName].Data));
        return dNormed;
    }

    /// <summary>gradient [cols, rows] (out, in) added transposed into stack[expert] [rows, cols].</summary>
    private static void AddTransposedIntoSlice(double[] gradient, double[] stack, int expert, int rows, int cols)
    {
        int offset = expert * rows * cols;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                stack[offset + r * cols + c] += gradient[c * rows + r];
    }

    private static void AddInPlace(double[] target, double[] addend)
    {
        for (int i = 0; i < target.Length; i++) target[i] += addend[i];
    }
}
