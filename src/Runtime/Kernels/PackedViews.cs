using ILGPU;
using OpenMoE.Kernels;

namespace OpenMoE.Runtime.Kernels;

/// <summary>
/// Whether views can be read as <see cref="Pack8"/>: a packed view is the float view cast to
/// packs, which is exact only when the view starts at a multiple of 8 floats in its buffer.
/// Separate overloads instead of a params array, so a launch allocates nothing.
/// </summary>
internal static class PackedViews
{
    public static bool Aligned(ArrayView<float> a) => StartIndex(a) % Pack8.Width == 0;

    public static bool Aligned(ArrayView<float> a, ArrayView<float> b) => Aligned(a) && Aligned(b);

    public static bool Aligned(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c) => Aligned(a, b) && Aligned(c);

    /// <summary>The view's first element index in its buffer (a constrained call: no boxing).</summary>
    private static long StartIndex<TView>(TView view) where TView : IContiguousArrayView => view.Index;
}
