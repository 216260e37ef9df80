namespace OpenMoE.Training.Objectives;

/// <summary>
/// One example as the decoder sees it: <c>Inputs ++ Targets</c> packed into one causal sequence,
/// loss on the target tokens only. Plain causal LM has no inputs.
/// </summary>
/// <param name="Inputs">Context tokens (mode prefix, corrupted text, EOS); no loss.</param>
/// <param name="Targets">Tokens the model is trained to predict.</param>
/// <param name="Transform">Name of the transform that made it, e.g. "R(3,0.15)" or "causal".</param>
public sealed record TrainingExample(int[] Inputs, int[] Targets, string Transform)
{
    /// <summary>Packed length, inputs plus targets.</summary>
    public int Length => Inputs.Length + Targets.Length;
}
