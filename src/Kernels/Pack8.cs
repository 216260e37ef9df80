using ILGPU;
using ILGPU.Algorithms;

namespace OpenMoE.Kernels;

/// <summary>
/// Eight consecutive floats, the unit in which the packed elementwise kernels (<c>*Packed</c>)
/// read and write. Why: the CPU accelerator runs kernels as .NET code in which every view
/// element access is a checked call costing several nanoseconds, more than the arithmetic of
/// an elementwise op; one access per eight floats brings those kernels near a plain loop. CUDA
/// keeps the one-float kernels, whose neighbouring threads touch neighbouring floats (coalescing).
/// A packed view needs its start index in the buffer to be a multiple of <see cref="Width"/>
/// (the launchers check, see <c>PackedViews</c>).
/// </summary>
public struct Pack8
{
    /// <summary>Floats per pack.</summary>
    public const int Width = 8;

    /// <summary>The eight values, in memory order.</summary>
    public float V0, V1, V2, V3, V4, V5, V6, V7;

    /// <summary>The first <c>packs * 8</c> floats of <paramref name="view"/> as packs.</summary>
    public static ArrayView<Pack8> Of(ArrayView<float> view, long packs) => view.SubView(0, packs * Width).Cast<Pack8>();

    /// <summary>a + b per element.</summary>
    public static Pack8 Add(Pack8 a, Pack8 b) => new()
    {
        V0 = a.V0 + b.V0, V1 = a.V1 + b.V1, V2 = a.V2 + b.V2, V3 = a.V3 + b.V3,
        V4 = a.V4 + b.V4, V5 = a.V5 + b.V5, V6 = a.V6 + b.V6, V7 = a.V7 + b.V7,
    };

    /// <summary>a * b per element.</summary>
    public static Pack8 Multiply(Pack8 a, Pack8 b) => new()
    {
        V0 = a.V0 * b.V0, V1 = a.V1 * b.V1, V2 = a.V2 * b.V2, V3 = a.V3 * b.V3,
        V4 = a.V4 * b.V4, V5 = a.V5 * b.V5, V6 = a.V6 * b.V6, V7 = a.V7 * b.V7,
    };

    /// <summary>a * scale * w per element (RMSNorm's output, in the scalar kernel's order of operations).</summary>
    public static Pack8 ScaleMultiply(Pack8 a, float scale, Pack8 w) => new()
    {
        V0 = a.V0 * scale * w.V0, V1 = a.V1 * scale * w.V1, V2 = a.V2 * scale * w.V2, V3 = a.V3 * scale * w.V3,
        V4 = a.V4 * scale * w.V4, V5 = a.V5 * scale * w.V5, V6 = a.V6 * scale * w.V6, V7 = a.V7 * scale * w.V7,
    };

    /// <summary>silu(a) per element.</summary>
    public static Pack8 Silu(Pack8 a) => new()
    {
        V0 = Activations.Silu(a.V0), V1 = Activations.Silu(a.V1), V2 = Activations.Silu(a.V2), V3 = Activations.Silu(a.V3),
        V4 = Activations.Silu(a.V4), V5 = Activations.Silu(a.V5), V6 = Activations.Silu(a.V6), V7 = Activations.Silu(a.V7),
    };

    /// <summary>t + w * s per element (a weighted accumulation, as in the MoE combine).</summary>
    public static Pack8 AddScaled(Pack8 t, float w, Pack8 s) => new()
    {
        V0 = t.V0 + w * s.V0, V1 = t.V1 + w * s.V1, V2 = t.V2 + w * s.V2, V3 = t.V3 + w * s.V3,
        V4 = t.V4 + w * s.V4, V5 = t.V5 + w * s.V5, V6 = t.V6 + w * s.V6, V7 = t.V7 + w * s.V7,
    };

    /// <summary>a - shift per element.</summary>
    public static Pack8 Subtract(Pack8 a, float shift) => new()
    {
        V0 = a.V0 - shift, V1 = a.V1 - shift, V2 = a.V2 - shift, V3 = a.V3 - shift,
        V4 = a.V4 - shift, V5 = a.V5 - shift, V6 = a.V6 - shift, V7 = a.V7 - shift,
    };

    /// <summary>The running maximum <paramref name="max"/> updated with the eight values, in memory order.</summary>
    public static float Max(float max, Pack8 a)
    {
        max = XMath.Max(max, a.V0); max = XMath.Max(max, a.V1); max = XMath.Max(max, a.V2); max = XMath.Max(max, a.V3);
        max = XMath.Max(max, a.V4); max = XMath.Max(max, a.V5); max = XMath.Max(max, a.V6); max = XMath.Max(max, a.V7);
        return max;
    }

    /// <summary>Adds exp(value - shift) of the eight values to <paramref name="sum"/> one by one, in memory order.</summary>
    public static float AccumulateExp(float sum, Pack8 a, float shift)
    {
        sum += XMath.Exp(a.V0 - shift); sum += XMath.Exp(a.V1 - shift); sum += XMath.Exp(a.V2 - shift); sum += XMath.Exp(a.V3 - shift);
        sum += XMath.Exp(a.V4 - shift); sum += XMath.Exp(a.V5 - shift); sum += XMath.Exp(a.V6 - shift); sum += XMath.Exp(a.V7 - shift);
        return sum;
    }

    /// <summary>Adds the squares of the eight values to <paramref name="sum"/> one by one, in memory order.</summary>
    public static float AccumulateSquares(float sum, Pack8 a)
    {
        sum += a.V0 * a.V0; sum += a.V1 * a.V1; sum += a.V2 * a.V2; sum += a.V3 * a.V3;
        sum += a.V4 * a.V4; sum += a.V5 * a.V5; sum += a.V6 * a.V6; sum += a.V7 * a.V7;
        return sum;
    }
}
