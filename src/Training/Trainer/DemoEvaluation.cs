using OpenMoE.Training.Data;
using OpenMoE.Training.Objectives;
using OpenMoE.Training.Tokenization;

namespace OpenMoE.Training;

/// <summary>
/// The demo's yardstick: the cross-entropy of a unigram model (token frequencies counted on
/// training batches, add-one smoothed) on causal-LM batches, next to the trained model's loss on
/// the same batches. A model that only learned token frequencies scores the unigram loss.
/// </summary>
public static class DemoEvaluation
{
    /// <summary>Causal-LM batches drawn with <paramref name="seed"/> from the data spec at <paramref name="dataPath"/>.</summary>
    public static List<PackedBatch> CausalBatches(string dataPath, ITokenizer tokenizer, int count, int batch, int sequenceLength, ulong seed)
    {
        var data = DataSpec.Load(dataPath);
        var pipeline = new DataPipeline(data.Sources, data.Mixture, ObjectiveSchedule.Constant(new CausalLm(tokenizer)), tokenizer, sequenceLength, seed);
        return Enumerable.Range(0, count).Select(i => pipeline.NextBatch(batch, i)).ToList();
    }

    /// <summary>Mean cross-entropy (nats) on the target tokens of <paramref name="evaluation"/> of the unigram model fitted on <paramref name="training"/>.</summary>
    public static double UnigramLoss(IEnumerable<PackedBatch> training, IEnumerable<PackedBatch> evaluation, int vocab)
    {
        var counts = new double[vocab];
        Array.Fill(counts, 1.0);
        foreach (var batch in training)
            for (int i = 0; i < batch.Labels.Length; i++)
                if (batch.LossMask[i] != 0) counts[batch.Labels[i]]++;
        double total = counts.Sum();
        double loss = 0;
        long n = 0;
        foreach (var batch in evaluation)
            for (int i = 0; i < batch.Labels.Length; i++)
            {
                if (batch.LossMask[i] == 0) continue;
                loss -= Math.Log(counts[batch.Labels[i]] / total);
                n++;
            }
        return loss / Math.Max(1, n);
    }
}
