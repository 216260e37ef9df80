using OpenMoE.Model.Network;
using OpenMoE.Model.Parallel;
using OpenMoE.Model.Routing.Replay;

namespace OpenMoE.Model.Evaluation;

/// <summary>
/// Scores a model on token sequences batch by batch: next-token cross-entropy (every position but
/// the last predicts its successor), router losses and drop ratio per MoE layer. A batch takes up to
/// batchSize consecutive sequences of equal length, so sequences of any lengths can be evaluated.
/// On an expert-parallel rank (<see cref="MoeTransformer.Parallel"/>) every rank evaluates the same
/// sequences together: rank r of P takes rows [r*b/P, (r+1)*b/P) of each batch of b (possibly none: it
/// then only serves its experts), the batch is one routing group as in one process, and the losses are
/// summed over the ranks, so the report equals one process's.
/// </summary>
public sealed class Evaluator(MoeTransformer model)
{
    /// <summary>When set, every batch's routing decisions are added to it (<c>eval --record-routing</c>).</summary>
    public RoutingRecorder? RecordRouting { get; init; }

    /// <summary>When set, every batch routes as this recording says (<c>eval --replay-routing</c>).</summary>
    public RoutingReplay? ReplayRouting { get; init; }

    /// <summary>One evaluated batch, for callers that dump logits and routing.</summary>
    public sealed record BatchResult(int[][] Sequences, ForwardResult Forward);

    /// <summary>
    /// Evaluates <paramref name="sequences"/> in batches of <paramref name="batchSize"/>;
    /// <paramref name="onBatch"/> sees every batch (dumps; one process only), <paramref name="onProgress"/>
    /// the number of sequences of every batch done (all ranks').
    /// </summary>
    public EvaluationReport Run(IReadOnlyList<int[]> sequences, int batchSize, double capacityFactor, Action<BatchResult>? onBatch = null,
        Action<int>? onProgress = null)
    {
        var parallel = model.Parallel;
        if (parallel is not null && (onBatch is not null || RecordRouting is not null || ReplayRouting is not null))
            throw new ArgumentException("Dumps and routing record or replay run in one process; drop --expert-parallel for them.");
        if (sequences.Count == 0)
            throw new ArgumentException("No sequences to evaluate: the data is empty or shorter than one sequence.");
        if (batchSize < 1)
            throw new ArgumentException($"--batch must be >= 1, got {batchSize}.");
        var options = new ForwardOptions { CapacityFactor = capacityFactor, RecordRouting = RecordRouting, ReplayRouting = ReplayRouting };
        double loss = 0, loadBalancing = 0, zLoss = 0;
        long targets = 0, localTokens = 0;
        int batches = 0;
        var dropped = new Dictionary<int, (long Dropped, long Assignments)>();
        foreach (var batch in EqualLengthBatches(sequences, batchSize))
        {
            int time = batch[0].Length;
            var share = parallel is null ? batch : batch[(batch.Length * parallel.Rank / parallel.Size)..(batch.Length * (parallel.Rank + 1) / parallel.Size)];
            ForwardResult? forward = null;
            IReadOnlyList<MoeLayerTrace> traces;
            localTokens += share.Length * time;
            if (share.Length > 0)
            {
                forward = model.Forward(share.SelectMany(s => s).ToArray(), share.Length, options);
                traces = forward.MoeLayers;
            }
            else
            {
                traces = model.ServeExperts(time, options);
            }
            for (int b = 0; b < share.Length; b++)
            {
                for (int t = 0; t + 1 < time; t++)
                {
                    loss += NegativeLogLikelihood(forward!.Row(b, t), share[b][t + 1]);
                    targets++;
                }
            }
            // Under expert parallelism every rank holds the whole group's routing: counted once, not summed.
            foreach (var layer in traces)
            {
                var (d, a) = dropped.GetValueOrDefault(layer.Layer);
                dropped[layer.Layer] = (d + layer.Routing.DroppedAssignments, a + layer.Routing.Assignments);
            }
            loadBalancing += traces.Count == 0 ? 0 : traces.Average(t => t.LoadBalancingLoss);
            zLoss += traces.Count == 0 ? 0 : traces.Average(t => t.ZLoss);
            batches++;
            if (forward is not null)
                onBatch?.Invoke(new BatchResult(batch, forward));
            onProgress?.Invoke(batch.Length);
        }
        List<RankTraffic>? traffic = null;
        if (parallel is not null)
        {
            var sums = new[] { loss, targets };
            parallel.Communicator.AllReduceSum(sums);
            (loss, targets) = (sums[0], (long)sums[1]);
            traffic = RankTraffic.Gather(parallel.Communicator, localTokens, parallel.RowsSent, parallel.BytesSent);
        }
        if (targets == 0)
            throw new ArgumentException("Every sequence has a single token: nothing to predict. Use --seq 2 or more.");
        return new EvaluationReport(model.Spec.Name, sequences.Count, targets, capacityFactor, loss / targets,
            loadBalancing / batches, zLoss / batches,
            dropped.OrderBy(p => p.Key).ToDictionary(p => p.Key, p => (double)p.Value.Dropped / p.Value.Assignments)) { Ranks = traffic };
    }

    /// <summary>Runs of consecutive sequences of one length, at most <paramref name="batchSize"/> each.</summary>
    public static IEnumerable<int[][]> EqualLengthBatches(IReadOnlyList<int[]> sequences, int batchSize)
    {
        var batch = new List<int[]>(batchSize);
        foreach (var sequence in sequences)
        {
            if (batch.Count == batchSize || (batch.Count > 0 && batch[0].Length != sequence.Length))
            {
                yield return batch.ToArray();
                batch.Clear();
            }
            batch.Add(sequence);
        }
        if (batch.Count > 0)
            yield return batch.ToArray();
    }

    /// <summary>-log softmax(logits)[target], in double.</summary>
    public static double NegativeLogLikelihood(ReadOnlySpan<float> logits, int target)
    {
        double max = double.NegativeInfinity;
        foreach (float v in logits)
            max = Math.Max(max, v);
        double sum = 0;
        foreach (float v in logits)
            sum += Math.Exp(v - max);
        return max + Math.Log(sum) - logits[target];
    }
}
