using ILGPU;
using ILGPU.Runtime;

namespace OpenMoE.Model.Network;

/// <summary>Host copies of device views (waits for the view's pending writes first).</summary>
internal static class ViewTransfers
{
    /// <summary>A new host array with the contents of <paramref name="view"/>.</summary>
    public static T[] Download<T>(this ArrayView<T> view) where T : unmanaged
    {
        var host = new T[view.Length];
        view.CopyToCPU(host);
        return host;
    }
}
