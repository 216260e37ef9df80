using ILGPU;
using ILGPU.Algorithms;

namespace OpenMoE.Kernels;

/// <summary>
/// Reductions across one thread group through shared memory. The group size must be a power
/// of two (the launchers guarantee it); no warp size is assumed, so it works for the CPU
/// accelerator's 2-wide warps and CUDA's 32-wide ones alike.
/// </summary>
public static class GroupReduce
{
    /// <summary>Largest group size the kernels support (shared scratch length).</summary>
    public const int MaxGroupSize = 1024;

    /// <summary>Sum of <paramref name="value"/> over the group (lane = Group.IdxX, lanes = Group.DimX); every thread gets the result.</summary>
    internal static float Sum(float value, ArrayView<float> scratch, int lane, int lanes)
    {
        // A one-thread group (the CPU's row groups) needs no barriers, and CPU barriers are costly.
        // lanes is uniform across the group, so every thread takes the same branch.
        if (lanes == 1)
            return value;
        scratch[lane] = value;
        Group.Barrier();
        for (int half = lanes / 2; half > 0; half /= 2)
        {
            if (lane < half)
                scratch[lane] += scratch[lane + half];
            Group.Barrier();
        }
        float result = scratch[0];
        // Keep the next reduction from overwriting scratch[0] before every thread has read it.
        Group.Barrier();
        return result;
    }

    /// <summary>Maximum of <paramref name="value"/> over the group; every thread gets the result.</summary>
    internal static float Max(float value, ArrayView<float> scratch, int lane, int lanes)
    {
        if (lanes == 1)
            return value;
        scratch[lane] = value;
        Group.Barrier();
        for (int half = lanes / 2; half > 0; half /= 2)
        {
            if (lane < half)
                scratch[lane] = XMath.Max(scratch[lane], scratch[lane + half]);
            Group.Barrier();
        }
        float result = scratch[0];
        Group.Barrier();
        return result;
    }
}
