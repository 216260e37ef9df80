using ILGPU;
using ILGPU.Runtime;

namespace OpenMoE.Runtime.Devices;

/// <summary>Host copies of device views (waits for the view's pending writes first).</summary>
public static class ViewTransfers
{
    /// <summary>A new host array with the contents of <paramref name="view"/>.</summary>
    public static T[] Download<T>(this ArrayView<T> view) where T : unmanaged
    {
        var host = new T[view.Length];
        if (host.Length > 0)
            view.CopyToCPU(host);
        return host;
    }
}
