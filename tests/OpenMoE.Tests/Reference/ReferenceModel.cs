using OpenMoE.Model.Specs;

namespace OpenMoE.Tests.Reference;

/// <summary>
/// The independent double-precision reference forward (DESIGN §2), read top to bottom:
/// embedding, L pre-norm decoder layers (attention, then a dense FFN or a MoE sublayer with
/// OpenMoE's sequential extra FFN or DeepSeekMoE's parallel shared experts), final RMSNorm,
/// LM head, and the losses. Uses nothing from src/ except <see cref="ModelConfig"/>.
/// Rows of every activation are the B*T tokens in batch-major order (row n = b*T + t).
/// </summary>
public static class ReferenceModel
{
    /// <summary>
    /// Full forward. tokens [B][T] -> logits [B, T, V], per-MoE-layer routing and losses.
    /// The whole batch is one routing group (capacity from N = B*T tokens).
    /// <paramref name="targetMask"/> [B][T], optional: the prediction of tokens[b][t] (made at
    /// position t-1) counts in the cross-entropy iff targetMask[b][t]; column 0 is ignored.
    /// Without a mask every next-token target (t = 1..T-1) counts.
    /// <paramref name="intermediates"/>, when given, receives every named intermediate under the
    /// device network's names ("L3.attn.q", see MoeTransformer.Intermediates), for the divergence test.
    /// </summary>
    public static ReferenceForwardResult Forward(ModelConfig config, ReferenceWeights weights, int[][] tokens, double capacityFactor,
        bool[][]? targetMask = null, IDictionary<string, double[]>? intermediates = null)
    {
        int B = tokens.Length, T = CheckInputs(config, weights, tokens, targetMask), N = B * T, D = config.Hidden;
        void Record(string name, double[] values) => intermediates?.Add(name, (double[])values.Clone());

        var x = Embed(config, weights, tokens); // [N, D]
        var traces = new List<ReferenceLayerTrace>();
        var routings = new List<ReferenceMoeRouting>();
        for (int layer = 0; layer < config.Layers; layer++)
        {
            string P(string suffix) => ReferenceNames.Layer(layer, suffix);
            string L(string suffix) => $"L{layer}.{suffix}";

            var attentionInput = (double[])x.Clone();
            var normed = ReferenceOps.RmsNorm(x, N, D, weights[P("input_layernorm.weight")].Data, config.NormEps);
            Record(L("attn.in"), attentionInput);
            Record(L("attn.normed"), normed);
            AddInPlace(x, AttentionSublayer(config, weights, layer, normed, B, T, (name, values) => Record(L(name), values)));

            var ffnInput = (double[])x.Clone();
            normed = ReferenceOps.RmsNorm(x, N, D, weights[P("post_attention_layernorm.weight")].Data, config.NormEps);
            Record(L("ffn.in"), ffnInput);
            Record(L("ffn.normed"), normed);
            double[]? extraInput = null;
            if (config.IsMoeLayer(layer))
            {
                var (moeOutput, routing) = MoeSublayer(config, weights, layer, normed, N, capacityFactor);
                Record(L("moe.router_logits"), routing.Tokens.SelectMany(token => token.RouterLogits).ToArray());
                AddInPlace(x, moeOutput);
                routings.Add(routing);
                if (config.SharedExpertKind == SharedExpertKind.SequentialExtraFfn)
                {
                    // OpenMoE's extra FFN runs after the MoE sublayer, with its own norm (DESIGN §2.1).
                    extraInput = (double[])x.Clone();
                    normed = ReferenceOps.RmsNorm(x, N, D, weights[P("pre_extra_mlp_layernorm.weight")].Data, config.NormEps);
                    Record(L("extra.in"), extraInput);
                    Record(L("extra.normed"), normed);
                    AddInPlace(x, ReferenceOps.Ffn(config.FfnKind, normed, N, D, DenseFfnWeights(weights, P("extra_mlp"), config.Ffn)));
                }
            }
            else
            {
                AddInPlace(x, ReferenceOps.Ffn(config.FfnKind, normed, N, D, DenseFfnWeights(weights, P("mlp"), config.Ffn)));
            }
            traces.Add(new ReferenceLayerTrace(layer, attentionInput, ffnInput, extraInput, (double[])x.Clone()));
        }

        var finalResidual = (double[])x.Clone();
        var finalNormed = ReferenceOps.RmsNorm(x, N, D, weights[ReferenceNames.FinalNorm].Data, config.NormEps);
        var head = weights[config.TiedEmbeddings ? ReferenceNames.Embedding : ReferenceNames.LmHead].Data;
        var logits = ReferenceOps.Linear(finalNormed, N, D, head, config.Vocab); // [N, V]
        Record("final.x", finalResidual);
        Record("final.normed", finalNormed);
        Record("final.logits", logits);

        var (crossEntropy, targetCount) = CrossEntropy(logits, tokens, targetMask, config.Vocab);
        return new ReferenceForwardResult
        {
            Batch = B,
            Time = T,
            Vocab = config.Vocab,
            Logits = logits,
            Routing = routings,
            CrossEntropy = crossEntropy,
            TargetCount = targetCount,
            LoadBalanceLoss = routings.Count == 0 ? 0 : routings.Average(r => r.LoadBalanceLoss),
            RouterZLoss = routings.Count == 0 ? 0 : routings.Average(r => r.RouterZLoss),
            Layers = traces,
            FinalResidual = finalResidual,
        };
    }

    /// <summary>
    /// Forward on the first <paramref name="prefixLength"/> tokens of every sequence (for causality
    /// checks). Capacity is computed from the shorter batch, so its logits equal the full
    /// forward's only when nothing is dropped in either run.
    /// </summary>
    public static ReferenceForwardResult ForwardPrefix(ModelConfig config, ReferenceWeights weights, int[][] tokens, int prefixLength, double capacityFactor) =>
        Forward(config, weights, tokens.Select(sequence => sequence[..prefixLength]).ToArray(), capacityFactor);

    /// <summary>Embedding lookup, no scaling. -> [N, D]</summary>
    public static double[] Embed(ModelConfig config, ReferenceWeights weights, int[][] tokens)
    {
        int D = config.Hidden, T = tokens[0].Length;
        var table = weights[ReferenceNames.Embedding].Data; // [V, D]
        var x = new double[tokens.Length * T * D];
        for (int b = 0; b < tokens.Length; b++)
            for (int t = 0; t < T; t++)
                Array.Copy(table, tokens[b][t] * D, x, (b * T + t) * D, D);
        return x;
    }

    /// <summary>
    /// Self-attention sublayer: q/k/v projections, RoPE on q and k, causal attention with the
    /// config's logit scale, output projection. normed [B*T, D] -> [B*T, D]. <paramref name="record"/>
    /// receives "attn.q", "attn.k" (after RoPE), "attn.v" and "attn.o" (before the output projection).
    /// </summary>
    public static double[] AttentionSublayer(ModelConfig config, ReferenceWeights weights, int layer, double[] normed, int batch, int time,
        Action<string, double[]>? record = null)
    {
        int N = batch * time, D = config.Hidden, H = config.Heads, hd = config.HeadDim;
        var (q, k, v) = AttentionProjections(config, weights, layer, normed, batch, time);
        var attended = ReferenceOps.CausalAttention(q, k, v, batch, time, H, config.KvHeads, hd, ReferenceOps.AttentionLogitScale(config)); // [N, H*hd]
        record?.Invoke("attn.q", q);
        record?.Invoke("attn.k", k);
        record?.Invoke("attn.v", v);
        record?.Invoke("attn.o", attended);
        return ReferenceOps.Linear(attended, N, H * hd, weights[ReferenceNames.Layer(layer, "self_attn.o_proj.weight")].Data, D);
    }

    /// <summary>q [B*T, H, hd], k and v [B*T, KV, hd] of one layer, with RoPE applied to q and k at position t of each row.</summary>
    public static (double[] Q, double[] K, double[] V) AttentionProjections(ModelConfig config, ReferenceWeights weights, int layer, double[] normed, int batch, int time)
    {
        int N = batch * time, D = config.Hidden, H = config.Heads, KV = config.KvHeads, hd = config.HeadDim;
        string P(string suffix) => ReferenceNames.Layer(layer, suffix);
        var q = ReferenceOps.Linear(normed, N, D, weights[P("self_attn.q_proj.weight")].Data, H * hd);  // [N, H, hd]
        var k = ReferenceOps.Linear(normed, N, D, weights[P("self_attn.k_proj.weight")].Data, KV * hd); // [N, KV, hd]
        var v = ReferenceOps.Linear(normed, N, D, weights[P("self_attn.v_proj.weight")].Data, KV * hd); // [N, KV, hd]
        for (int n = 0; n < N; n++)
        {
            int position = n % time;
            for (int h = 0; h < H; h++) ReferenceOps.ApplyRope(q, (n * H + h) * hd, hd, position, config.RopeTheta);
            for (int h = 0; h < KV; h++) ReferenceOps.ApplyRope(k, (n * KV + h) * hd, hd, position, config.RopeTheta);
        }
        return (q, k, v);
    }

    /// <summary>
    /// MoE sublayer: router (softmax over all experts), top-k, capacity with first-choices-first
    /// priority, weighted combine of the kept expert outputs; plus DeepSeekMoE's parallel shared
    /// experts on the same input. normed [N, D] -> ([N, D], routing record).
    /// </summary>
    public static (double[] Output, ReferenceMoeRouting Routing) MoeSublayer(ModelConfig config, ReferenceWeights weights, int layer, double[] normed, int tokens, double capacityFactor)
    {
        int N = tokens, D = config.Hidden, E = config.Experts, K = config.TopK;
        var layout = ReferenceLayouts.Of(config);

        var routerLogits = ReferenceOps.Linear(normed, N, D, weights[RouterName(layout, layer)].Data, E); // [N, E]
        var probabilities = new double[N][];
        var choices = new int[N][];
        var combineWeights = new double[N][];
        for (int n = 0; n < N; n++)
        {
            probabilities[n] = ReferenceOps.Softmax(routerLogits, n * E, E);
            choices[n] = ReferenceRouting.TopK(probabilities[n], K);
            combineWeights[n] = choices[n].Select(e => probabilities[n][e]).ToArray();
            if (config.Gating == Gating.RenormalizedTopK)
            {
                // Renormalised over the top-k before any dropping (Mixtral).
                double sum = combineWeights[n].Sum();
                for (int r = 0; r < K; r++) combineWeights[n][r] /= sum;
            }
        }

        int capacity = ReferenceRouting.Capacity(config.CapacityRule, capacityFactor, N, E, K, config.MinCapacity);
        var slots = ReferenceRouting.AssignSlots(choices, E, capacity);

        var output = new double[N * D];
        for (int e = 0; e < E; e++)
        {
            // Gather this expert's kept tokens, run its FFN once, scatter-add weighted rows back.
            var members = new List<(int Token, double Weight)>();
            for (int n = 0; n < N; n++)
                for (int r = 0; r < K; r++)
                    if (choices[n][r] == e && slots[n][r] >= 0) members.Add((n, combineWeights[n][r]));
            if (members.Count == 0) continue;
            var gathered = new double[members.Count * D];
            for (int i = 0; i < members.Count; i++) Array.Copy(normed, members[i].Token * D, gathered, i * D, D);
            var expertOutput = ReferenceOps.Ffn(config.FfnKind, gathered, members.Count, D, ExpertFfnWeights(config, weights, layer, e));
            for (int i = 0; i < members.Count; i++)
                for (int j = 0; j < D; j++)
                    output[members[i].Token * D + j] += members[i].Weight * expertOutput[i * D + j];
        }

        if (config.SharedExpertKind == SharedExpertKind.ParallelShared)
        {
            var shared = DenseFfnWeights(weights, ReferenceNames.Layer(layer, "mlp.shared_experts"), config.SharedExperts * config.SharedExpertFfn);
            AddInPlace(output, ReferenceOps.Ffn(config.FfnKind, normed, N, D, shared));
        }

        var routes = new ReferenceTokenRoute[N];
        for (int n = 0; n < N; n++)
            routes[n] = new ReferenceTokenRoute(routerLogits[(n * E)..((n + 1) * E)], probabilities[n], choices[n], combineWeights[n], slots[n]);
        return (output, new ReferenceMoeRouting(layer, capacity, routes, LoadBalanceLoss(probabilities, choices, E), RouterZLoss(routerLogits, N, E)));
    }

    /// <summary>E * sum_e f_e * P_e; f_e counts tokens with e in their top-k (before dropping, once per token), P_e is the mean probability.</summary>
    public static double LoadBalanceLoss(double[][] probabilities, int[][] choices, int experts)
    {
        int N = probabilities.Length;
        double loss = 0;
        for (int e = 0; e < experts; e++)
        {
            double fraction = choices.Count(chosen => chosen.Contains(e)) / (double)N;
            double meanProbability = probabilities.Sum(p => p[e]) / N;
            loss += fraction * meanProbability;
        }
        return experts * loss;
    }

    /// <summary>mean_tokens logsumexp(router logits)^2. routerLogits [N, E].</summary>
    public static double RouterZLoss(double[] routerLogits, int tokens, int experts)
    {
        double sum = 0;
        for (int n = 0; n < tokens; n++)
        {
            double lse = ReferenceOps.LogSumExp(routerLogits, n * experts, experts);
            sum += lse * lse;
        }
        return sum / tokens;
    }

    /// <summary>Mean next-token cross-entropy and the number of counted targets. logits [B*T, V].</summary>
    public static (double Loss, int Count) CrossEntropy(double[] logits, int[][] tokens, bool[][]? targetMask, int vocab)
    {
        int T = tokens[0].Length;
        double sum = 0;
        int count = 0;
        for (int b = 0; b < tokens.Length; b++)
            for (int t = 1; t < T; t++)
            {
                if (targetMask != null && !targetMask[b][t]) continue;
                int row = (b * T + t - 1) * vocab;
                sum += ReferenceOps.LogSumExp(logits, row, vocab) - logits[row + tokens[b][t]];
                count++;
            }
        return (count == 0 ? 0 : sum / count, count);
    }

    /// <summary>The router weight's name in this layout. [E, D]</summary>
    public static string RouterName(ReferenceLayout layout, int layer) => ReferenceNames.Layer(layer, layout switch
    {
        ReferenceLayout.OpenMoE => "mlp.gate_weight",
        ReferenceLayout.Mixtral => "block_sparse_moe.gate.weight",
        _ => "mlp.gate.weight",
    });

    /// <summary>A dense FFN stored as "{prefix}.gate_proj/up_proj/down_proj.weight" in [out, in] layout.</summary>
    public static FfnWeights DenseFfnWeights(ReferenceWeights weights, string prefix, int width) =>
        new(weights[$"{prefix}.gate_proj.weight"].Data, weights[$"{prefix}.up_proj.weight"].Data, weights[$"{prefix}.down_proj.weight"].Data, width);

    /// <summary>
    /// Expert <paramref name="expert"/>'s FFN in [out, in] layout. OpenMoE stores the experts
    /// stacked and untransposed (wi_gate [E, D, 2F], wi_up [E, D, F], wo [E, F, D]), so its slice is transposed here.
    /// </summary>
    public static FfnWeights ExpertFfnWeights(ModelConfig config, ReferenceWeights weights, int layer, int expert)
    {
        int D = config.Hidden, Fe = config.ExpertFfn;
        string P(string suffix) => ReferenceNames.Layer(layer, suffix);
        return ReferenceLayouts.Of(config) switch
        {
            ReferenceLayout.OpenMoE => new FfnWeights(
                TransposeSlice(weights[P("mlp.experts.wi_gate")].Data, expert, D, 2 * Fe),
                TransposeSlice(weights[P("mlp.experts.wi_up")].Data, expert, D, Fe),
                TransposeSlice(weights[P("mlp.experts.wo")].Data, expert, Fe, D),
                Fe),
            ReferenceLayout.Mixtral => new FfnWeights(
                weights[P($"block_sparse_moe.experts.{expert}.w1.weight")].Data,
                weights[P($"block_sparse_moe.experts.{expert}.w3.weight")].Data,
                weights[P($"block_sparse_moe.experts.{expert}.w2.weight")].Data,
                Fe),
            _ => DenseFfnWeights(weights, P($"mlp.experts.{expert}"), Fe),
        };
    }

    /// <summary>stack [E, rows, cols] -> stack[expert]^T [cols, rows].</summary>
    private static double[] TransposeSlice(double[] stack, int expert, int rows, int cols)
    {
        var result = new double[rows * cols];
        int offset = expert * rows * cols;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                result[c * rows + r] = stack[offset + r * cols + c];
        return result;
    }

    private static void AddInPlace(double[] target, double[] addend)
    {
        for (int i = 0; i < target.Length; i++) target[i] += addend[i];
    }

    /// <summary>Validates shapes and ids; returns T.</summary>
    private static int CheckInputs(ModelConfig config, ReferenceWeights weights, int[][] tokens, bool[][]? targetMask)
    {
        if (weights.Config != config)
            throw new ArgumentException($"Weights were built for '{weights.Config.Name}', not '{config.Name}'.");
        if (tokens.Length == 0 || tokens[0].Length == 0) throw new ArgumentException("tokens must be a non-empty [B][T] array.");
        int T = tokens[0].Length;
        if (T > config.ContextLength) throw new ArgumentException($"Sequence length {T} exceeds the context length {config.ContextLength}.");
        for (int b = 0; b < tokens.Length; b++)
        {
            if (tokens[b].Length != T) throw new ArgumentException($"Sequence {b} has length {tokens[b].Length}, expected {T}.");
            foreach (var id in tokens[b])
                if (id < 0 || id >= config.Vocab) throw new ArgumentException($"Token id {id} in sequence {b} is outside the vocabulary [0, {config.Vocab}).");
        }
        if (targetMask != null && (targetMask.Length != tokens.Length || targetMask.Any(row => row.Length != T)))
            throw new ArgumentException("targetMask must have the same [B][T] shape as tokens.");
        if (config.HeadDim % 2 != 0) throw new ArgumentException($"RoPE needs an even head_dim, got {config.HeadDim}.");
        return T;
    }
}
