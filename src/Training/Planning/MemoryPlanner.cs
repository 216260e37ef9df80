using OpenMoE.Kernels.Optimizers;
using OpenMoE.Model.Parallel;
using OpenMoE.Model.Specs;

namespace OpenMoE.Training.Planning;

/// <summary>
/// Computes a <see cref="MemoryPlan"/> from a spec and a run's shape: the weights, gradients and
/// optimizer state from the parameter table (Adafactor's factored moments by its own rule), the
/// activations from what the network's layers allocate per token (<see cref="ActivationMemory"/>),
/// the KV cache, and on the CPU accelerator the logits returned to the host and the process itself. Checked against the device's measured peak in tests and against the process's peak
/// resident memory in <c>bench plan</c>.
/// </summary>
public static class MemoryPlanner
{
    /// <summary>The plan of <paramref name="request"/> on a device with <paramref name="device"/>'s memory.</summary>
    public static MemoryPlan Plan(PlanRequest request, DeviceMemory device, bool hostIsDevice)
    {
        var spec = request.Spec;
        var config = spec.Config;
        var held = HeldParameters(spec, request.ExpertParallel);
        long p = held.Sum(t => t.Elements);
        int eb = request.Precision.BytesPerElement();
        string per = request.ExpertParallel > 1
            ? $"{p:N0} parameters of one of {request.ExpertParallel} expert-parallel ranks x {eb} B"
            : $"{p:N0} parameters x {eb} B";
        long mapped = request.MappedWeightBytes;
        var items = new List<PlanItem> { new("weights", p * eb - mapped, mapped > 0 ? $"{per}, less {MemoryPlan.Format(mapped)} memory-mapped" : per) };
        if (mapped > 0)
            items.Add(new("memory-mapped weights", 0, $"{MemoryPlan.Format(mapped)} used in place from the checkpoint: the OS pages them in as they are touched and may evict them again"));
        if (request.Training)
        {
            if (request.Precision == Precision.Bf16)
                items.Add(new("fp32 master weights", 4 * p, $"{p:N0} parameters x 4 B"));
            items.Add(new("gradients", p * eb, per));
            long state = OptimizerStateBytes(held, request.Optimizer!);
            items.Add(new($"optimizer state ({request.Optimizer})", state, request.Optimizer == "adamw"
                ? "first and second moments, fp32"
                : "factored second moments (rows + columns) of matrices >= 128 x 128, full ones otherwise, fp32"));
        }
        long tokens = (long)request.Batch * request.Seq;
        items.Add(new("activations", ActivationMemory.Bytes(config, request), request.Training
            ? $"{tokens:N0} tokens, every layer's kept for the backward, plus backward scratch"
            : $"{tokens:N0} tokens, one layer's scratch (layers reuse it) plus the logits"));
        if (request.KvCachePositions > 0)
        {
            long cache = 2L * config.Layers * request.Batch * request.KvCachePositions * config.KvHeads * config.HeadDim * eb;
            items.Add(new("KV cache", cache, $"{config.Layers} layers x {request.Batch} x {request.KvCachePositions} positions x {config.KvHeads} kv heads x {config.HeadDim} x 2"));
        }
        // Saves and resumes stream each tensor between the device and the file in pieces of a few MiB: nothing worth a line.
        if (hostIsDevice && !request.Training)
        {
            // The forward returns its logits to the host: every position's for eval, the last one's when generating.
            long rows = request.KvCachePositions > 0 ? request.Batch : tokens;
            items.Add(new("logits on the host", 4 * rows * config.Vocab, $"{rows:N0} rows x {config.Vocab:N0} fp32, returned by the forward"));
        }
        if (hostIsDevice)
            items.Add(new("runtime", Environment.WorkingSet, ".NET, ILGPU and the loaded code: this process's resident memory now"));
        return new MemoryPlan(request, items, device);
    }

    /// <summary>
    /// The tensors one rank holds when the experts are split over <paramref name="expertParallel"/> ranks:
    /// every replicated tensor, the per-expert tensors of the first E/P experts, and an E/P slice of each
    /// expert stack (the same counts on every rank). All of them in one process.
    /// </summary>
    public static IReadOnlyList<ParameterInfo> HeldParameters(ModelSpecInfo spec, int expertParallel)
    {
        if (expertParallel <= 1)
            return spec.Parameters;
        int experts = spec.Config.Experts;
        if (experts % expertParallel != 0)
            throw new ArgumentException($"--expert-parallel {expertParallel} does not divide the {experts} experts of {spec.Name}; use a divisor of {experts}.");
        var shard = new ExpertShard(0, experts / expertParallel);
        return spec.Parameters
            .Where(shard.Holds)
            .Select(t => ExpertTensors.IsStacked(t) ? t with { Shape = t.Shape.SetItem(0, shard.Count) } : t)
            .ToList();
    }

    /// <summary>The fp32 state <paramref name="optimizer"/> keeps for <paramref name="parameters"/>.</summary>
    public static long OptimizerStateBytes(IEnumerable<ParameterInfo> parameters, string optimizer) => optimizer switch
    {
        "adamw" => parameters.Sum(p => 8 * p.Elements),
        "adafactor" => parameters.Sum(p => 4 * AdafactorFactoring.StateElements(p.Shape)),
        _ => throw new ArgumentException($"--optimizer must be adafactor or adamw; got '{optimizer}'."),
    };
}
