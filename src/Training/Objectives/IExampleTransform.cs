namespace OpenMoE.Training.Objectives;

/// <summary>
/// Turns a chunk of raw document tokens into a <see cref="TrainingExample"/> (one denoiser, or
/// plain causal LM). The pipeline asks <see cref="OutputLength"/> to size chunks so examples fit
/// the space left in a packed row.
/// </summary>
public interface IExampleTransform
{
    /// <summary>Short name, recorded on each example.</summary>
    string Name { get; }

    /// <summary>Smallest raw chunk this transform accepts.</summary>
    int MinRawLength { get; }

    /// <summary>
    /// Packed length of the example made from <paramref name="rawLength"/> raw tokens, or
    /// <see cref="int.MaxValue"/> when that length is not allowed (e.g. more spans than
    /// sentinels). Non-decreasing in <paramref name="rawLength"/>.
    /// </summary>
    int OutputLength(int rawLength, bool endsDocument);

    /// <summary>Builds the example; <paramref name="rng"/> supplies all randomness.</summary>
    TrainingExample Apply(ReadOnlySpan<int> raw, bool endsDocument, DataRng rng);
}

/// <summary>Chooses a transform per example (a UL2 mixture draws one; causal LM always gives itself).</summary>
public interface IObjective
{
    /// <summary>Objective name, e.g. "ul2" or "causal".</summary>
    string Name { get; }

    /// <summary>The transform for the next example.</summary>
    IExampleTransform Next(DataRng rng);
}
