using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Initialization;
using OpenMoE.Model.Network;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Analysis;

/// <summary>
/// A model the analysis can run, without loading it yet: its spec, a label, its training step when
/// known, and how to build it on a device. The analysis opens one model at a time and disposes it
/// before opening the next, so a run over many checkpoints needs the memory of one.
/// </summary>
/// <param name="Label">What to call it in the report (checkpoint path, "random init (seed 3)").</param>
/// <param name="Step">Training step, or null when unknown (random initialisation counts as step 0).</param>
/// <param name="Spec">The spec the weights belong to.</param>
/// <param name="Open">Builds the network on a device; the caller disposes it.</param>
/// <param name="InitSeed">Seed of the weights' initialisation when known (recorded by the trainer or `openmoe init`): the untrained control then is this very model before training.</param>
/// <param name="Tokenizer">The tokenizer the checkpoint records it was trained with (<see cref="OpenMoE.Training.Tokenization.Tokenizers.RecordedName"/>), or null.</param>
public sealed record AnalysisModelSource(string Label, long? Step, ModelSpecInfo Spec, Func<ComputeDevice, MoeTransformer> Open, ulong? InitSeed = null, string? Tokenizer = null)
{
    /// <summary>A model of <paramref name="spec"/> with OpenMoE's initialisation (<see cref="WeightInitializer"/>), labelled with its seed.</summary>
    public static AnalysisModelSource RandomInit(ModelSpecInfo spec, ulong seed) => new(
        $"random init (seed {seed})", 0, spec,
        device => new MoeTransformer(device, spec,
            DeviceWeights.Load(device, spec, (p, sink) => WeightInitializer.Stream(spec.Config, p, seed, sink))),
        seed);

    /// <summary>The initialisation seed a checkpoint's metadata records (trainer state, or `openmoe init`'s init_seed), or null.</summary>
    public static ulong? RecordedInitSeed(IReadOnlyDictionary<string, string> extra) =>
        extra.TryGetValue("init_seed", out var text) && ulong.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var seed)
            ? seed
            : OpenMoE.Training.CheckpointTrainingStore.StateOf(extra)?.Seed;

    /// <summary>
    /// A checkpoint, run folder or safetensors file (<see cref="WeightFile"/>): spec, step and checksums
    /// are checked when it is opened here; the weights are streamed to the device when the analysis asks.
    /// </summary>
    public static AnalysisModelSource FromWeights(string path)
    {
        using var file = WeightFile.Open(path, expectedSpec: null);
        var spec = file.Spec;
        var extra = file.Checkpoint?.Metadata.Extra;
        return new AnalysisModelSource(file.Description, file.Checkpoint?.Metadata.Step, spec, device =>
        {
            using var weights = WeightFile.Open(path, spec);
            return new MoeTransformer(device, spec, DeviceWeights.Load(device, spec, weights.Stream));
        }, extra is null ? null : RecordedInitSeed(extra), extra is null ? null : OpenMoE.Training.CheckpointTrainingStore.RecordedTokenizer(extra));
    }

    /// <summary>
    /// Fails with a message naming the checkpoint when any source was built for a spec other than
    /// <paramref name="expected"/> (the one given with --spec, or the first checkpoint's).
    /// </summary>
    public static void CheckSameSpec(IReadOnlyList<AnalysisModelSource> sources, ModelSpecInfo expected)
    {
        foreach (var source in sources)
        {
            if (source.Spec.Name != expected.Name || source.Spec.Config != expected.Config)
                throw new ArgumentException(
                    $"{source.Label} holds a {source.Spec.Name} model but the analysis is for {expected.Name}; " +
                    $"pass --spec {source.Spec.Name} or checkpoints of {expected.Name}.");
        }
    }
}

/// <summary>Opens a checkpoint for analysis: reads its spec and step, and loads its weights on demand.</summary>
public delegate AnalysisModelSource CheckpointOpener(string path);
