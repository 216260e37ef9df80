using System.Globalization;
using System.Text;

namespace OpenMoE.Training.Planning;

/// <summary>One line of a plan: what needs the memory, how much, and how the figure was reached.</summary>
public sealed record PlanItem(string What, long Bytes, string How);

/// <summary>
/// What a run needs, item by item, next to what the device has. <see cref="Require"/> is how
/// train, eval, generate and analyze refuse up front instead of dying in an out-of-memory kill.
/// </summary>
public sealed record MemoryPlan(PlanRequest Request, IReadOnlyList<PlanItem> Items, DeviceMemory Device)
{
    /// <summary>The sum of the items.</summary>
    public long TotalBytes => Items.Sum(i => i.Bytes);

    /// <summary>Whether the total fits the device's memory.</summary>
    public bool Fits => TotalBytes <= Device.Bytes;

    /// <summary>Device memory minus the total (negative when it does not fit).</summary>
    public long HeadroomBytes => Device.Bytes - TotalBytes;

    /// <summary>The table <c>openmoe plan</c> prints and a refusal quotes.</summary>
    public string Table()
    {
        var r = Request;
        var text = new StringBuilder();
        string mode = r.Training ? $"training with {r.Optimizer}" : r.KvCachePositions > 0 ? $"generation (KV cache of {r.KvCachePositions} positions)" : "inference";
        text.AppendLine(CultureInfo.InvariantCulture, $"{r.Spec.Name}, {r.Precision.Name()}, {mode}, batch {r.Batch} x {r.Seq} tokens, {r.Spec.TotalParams:N0} parameters{(r.ExpertParallel > 1 ? $", one of {r.ExpertParallel} expert-parallel ranks" : "")}");
        int width = Math.Max(Items.Max(i => i.What.Length), "available on the device".Length);
        foreach (var item in Items)
            text.AppendLine(CultureInfo.InvariantCulture, $"  {item.What.PadRight(width)}  {Format(item.Bytes),12}  {item.How}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  {"total".PadRight(width)}  {Format(TotalBytes),12}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  {"available on the device".PadRight(width)}  {Format(Device.Bytes),12}  {Device.Description}");
        text.Append(Fits
            ? $"fits, with {Format(HeadroomBytes)} to spare ({100.0 * TotalBytes / Device.Bytes:F1}% of the device)"
            : $"does not fit: {Format(-HeadroomBytes)} short");
        return text.ToString();
    }

    /// <summary>
    /// Throws <see cref="MemoryPlanException"/> (the table, and <paramref name="advice"/>: which flag to
    /// change) when the run does not fit.
    /// </summary>
    public void Require(string advice)
    {
        if (Fits)
            return;
        var largest = Items.MaxBy(i => i.Bytes)!;
        throw new MemoryPlanException(
            $"{Request.Spec.Name} needs about {Format(TotalBytes)} ({largest.What} {Format(largest.Bytes)}) but the device has {Format(Device.Bytes)} ({Device.Description}). {advice} " +
            $"See the plan: openmoe plan {PlanArguments()}", Table());
    }

    /// <summary>The <c>openmoe plan</c> arguments that print this plan.</summary>
    public string PlanArguments()
    {
        var r = Request;
        var args = $"--spec {r.Spec.Name} --precision {r.Precision.Name()} --batch {r.Batch} --seq {r.Seq}";
        if (r.Training)
            args += $" --train --optimizer {r.Optimizer}";
        if (r.KvCachePositions > 0)
            args += $" --kv-cache {r.KvCachePositions}";
        return args;
    }

    /// <summary>Bytes as GiB (or MiB below one GiB), two decimals.</summary>
    public static string Format(long bytes) => Math.Abs(bytes) >= 1L << 30
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F2} GiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F2} MiB");
}

/// <summary>A run that does not fit: the message says the figures and the flag to change; <see cref="Table"/> is the whole plan.</summary>
public sealed class MemoryPlanException(string message, string table) : ArgumentException(message)
{
    /// <summary>The plan's table, for the user's terminal.</summary>
    public string Table { get; } = table;
}
