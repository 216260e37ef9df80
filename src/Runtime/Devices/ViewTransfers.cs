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

    /// <summary>
    /// Hands the contents of <paramref name="view"/> to <paramref name="sink"/> in order, one piece of at most
    /// <paramref name="scratch"/>'s length at a time (the scratch is reused: a sink must not keep the span).
    /// </summary>
    public static void DownloadInPieces<T>(this ArrayView<T> view, T[] scratch, ReadOnlySpanAction<T> sink) where T : unmanaged
    {
        for (long offset = 0; offset < view.Length; offset += scratch.Length)
        {
            int length = (int)Math.Min(scratch.Length, view.Length - offset);
            view.SubView(offset, length).CopyToCPU(scratch.AsSpan(0, length));
            sink(scratch.AsSpan(0, length));
        }
    }
}

/// <summary>Receives a read-only span (the span is valid only during the call).</summary>
public delegate void ReadOnlySpanAction<T>(ReadOnlySpan<T> span);
