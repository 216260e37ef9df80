using System.Collections.Concurrent;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;

namespace OpenMoE.Runtime.Kernels;

/// <summary>
/// Loads each kernel once per accelerator (ILGPU compiles on first load) and hands back the
/// stream launcher. Keyed by the kernel method, so a generic kernel closed over two dims types
/// is two entries. Kernels are explicitly grouped: the caller passes the <see cref="KernelConfig"/>.
/// A lookup allocates nothing (static factory, state passed as a value tuple; C# caches the
/// delegates of static method groups), so launching in a training step stays allocation-free.
/// </summary>
public sealed class KernelCache(Accelerator accelerator)
{
    private readonly ConcurrentDictionary<MethodInfo, Delegate> _loaded = new();
    private long _launches;

    /// <summary>
    /// Kernel launches through this cache so far: every launcher fetches its kernel here once per
    /// launch, so the benches read launches per forward and per step as differences of this count.
    /// </summary>
    public long Launches => Interlocked.Read(ref _launches);

    /// <summary>Number of distinct kernels loaded so far.</summary>
    public int Count => _loaded.Count;

    /// <summary>Whether <paramref name="kernel"/> has been loaded (a launcher ran it at least once).</summary>
    public bool IsLoaded(Delegate kernel) => _loaded.ContainsKey(kernel.Method);

    private Delegate Load<TState>(MethodInfo method, Func<MethodInfo, TState, Delegate> factory, TState state)
    {
        Interlocked.Increment(ref _launches);
        return _loaded.GetOrAdd(method, factory, state);
    }

    /// <summary>The launcher of a 2-argument kernel, loading it on first use.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2> Get<T1, T2>(Action<T1, T2> kernel)
        where T1 : struct where T2 : struct
        => (Action<AcceleratorStream, KernelConfig, T1, T2>)Load(kernel.Method, static (_, load) => load.Accelerator.LoadKernel(load.Kernel), (Accelerator: accelerator, Kernel: kernel));

    /// <summary>The launcher of a 3-argument kernel, loading it on first use.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3> Get<T1, T2, T3>(Action<T1, T2, T3> kernel)
        where T1 : struct where T2 : struct where T3 : struct
        => (Action<AcceleratorStream, KernelConfig, T1, T2, T3>)Load(kernel.Method, static (_, load) => load.Accelerator.LoadKernel(load.Kernel), (Accelerator: accelerator, Kernel: kernel));

    /// <summary>The launcher of a 4-argument kernel, loading it on first use.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4> Get<T1, T2, T3, T4>(Action<T1, T2, T3, T4> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct
        => (Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4>)Load(kernel.Method, static (_, load) => load.Accelerator.LoadKernel(load.Kernel), (Accelerator: accelerator, Kernel: kernel));

    /// <summary>The launcher of a 5-argument kernel, loading it on first use.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5> Get<T1, T2, T3, T4, T5>(Action<T1, T2, T3, T4, T5> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct
        => (Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5>)Load(kernel.Method, static (_, load) => load.Accelerator.LoadKernel(load.Kernel), (Accelerator: accelerator, Kernel: kernel));

    /// <summary>The launcher of a 6-argument kernel, loading it on first use.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6> Get<T1, T2, T3, T4, T5, T6>(Action<T1, T2, T3, T4, T5, T6> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct
        => (Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6>)Load(kernel.Method, static (_, load) => load.Accelerator.LoadKernel(load.Kernel), (Accelerator: accelerator, Kernel: kernel));

    /// <summary>The launcher of a 7-argument kernel, loading it on first use.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7> Get<T1, T2, T3, T4, T5, T6, T7>(Action<T1, T2, T3, T4, T5, T6, T7> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct
        => (Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7>)Load(kernel.Method, static (_, load) => load.Accelerator.LoadKernel(load.Kernel), (Accelerator: accelerator, Kernel: kernel));

    /// <summary>The launcher of a 8-argument kernel, loading it on first use.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8> Get<T1, T2, T3, T4, T5, T6, T7, T8>(Action<T1, T2, T3, T4, T5, T6, T7, T8> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct
        => (Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8>)Load(kernel.Method, static (_, load) => load.Accelerator.LoadKernel(load.Kernel), (Accelerator: accelerator, Kernel: kernel));

    /// <summary>The launcher of a 9-argument kernel, loading it on first use.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9> Get<T1, T2, T3, T4, T5, T6, T7, T8, T9>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct
        => (Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9>)Load(kernel.Method, static (_, load) => load.Accelerator.LoadKernel(load.Kernel), (Accelerator: accelerator, Kernel: kernel));

    /// <summary>The launcher of a 10-argument kernel, loading it on first use.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> Get<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> kernel)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct where T10 : struct
        => (Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>)Load(kernel.Method, static (_, load) => load.Accelerator.LoadKernel(load.Kernel), (Accelerator: accelerator, Kernel: kernel));
}
