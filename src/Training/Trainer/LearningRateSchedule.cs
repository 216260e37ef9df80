namespace OpenMoE.Training;

/// <summary>Learning rate as a function of the 1-based step.</summary>
public interface ILearningRateSchedule
{
    /// <summary>Learning rate of step <paramref name="step"/> (1 = the first update).</summary>
    double At(long step);
}

/// <summary>
/// T5X/OpenMoE's inverse square root with a plateau: <c>scale / sqrt(max(step, warmup))</c>
/// (OpenMoE: scale 1, warmup 10,000, i.e. 0.01 for the first 10k steps).
/// </summary>
public sealed record InverseSqrtSchedule(double Scale = 1.0, long Warmup = 10_000) : ILearningRateSchedule
{
    /// <inheritdoc />
    public double At(long step) => Scale / Math.Sqrt(Math.Max(step, Warmup));
}

/// <summary>Linear warmup to <paramref name="Peak"/> over <paramref name="Warmup"/> steps, then cosine decay to <paramref name="Minimum"/> at <paramref name="Total"/>.</summary>
public sealed record CosineSchedule(double Peak, long Warmup, long Total, double Minimum = 0) : ILearningRateSchedule
{
    /// <inheritdoc />
    public double At(long step)
    {
        if (step <= Warmup)
            return Peak * step / Math.Max(1, Warmup);
        double progress = Math.Min(1.0, (double)(step - Warmup) / Math.Max(1, Total - Warmup));
        return Minimum + (Peak - Minimum) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
