using ILGPU;
using ILGPU.Runtime;
using OpenMoE.Kernels;
using OpenMoE.Runtime.Devices;

namespace OpenMoE.Tests.Kernels;

/// <summary>
/// The packed elementwise kernels (the CPU accelerator's default) must give exactly what the
/// one-float kernels give, so switching layouts never changes a forward pass or a training run.
/// The comparison with the double references is in the self-test checks (both layouts, every
/// accelerator). Exact equality is a CPU property: there both forms run one thread per row in
/// element order, while CUDA's one-float row kernels reduce across 256 threads in a tree.
/// Every test gets a device of its own, so "the packed kernel was loaded" proves that the launcher
/// ran it in this test.
/// </summary>
public sealed class PackedKernelTests : IDisposable
{
    private const int Rows = 13, Width = 136, Count = Rows * Width + 5;
    private readonly ComputeDevice _device = DeviceFactory.Create(DeviceKind.Cpu);
    private readonly Random _random = new(7);

    [Fact]
    public void Packed_kernels_are_the_default_on_the_CPU_accelerator()
        => Assert.True(_device.Ops.PackedElementwise);

    [Fact]
    public void Residual_add_runs_packed_and_is_identical_in_both_layouts()
    {
        var x = Floats(Count); var delta = Floats(Count);
        AssertSameInBothLayouts(ResidualAdd.ForwardPacked, () =>
        {
            var view = Upload(x);
            _device.Ops.ResidualAdd(view, Upload(delta), Count);
            return view;
        });
    }

    [Fact]
    public void SwiGlu_runs_packed_and_is_identical_in_both_layouts()
    {
        var gate = Floats(Count, 6); var up = Floats(Count);
        AssertSameInBothLayouts(SwiGlu.ForwardPacked, () =>
        {
            var h = Upload(new float[Count]);
            _device.Ops.SwiGlu(Upload(gate), Upload(up), h, Count);
            return h;
        });
    }

    [Fact]
    public void OpenMoE_activation_runs_packed_and_is_identical_in_both_layouts()
    {
        var g = Floats(2 * Rows * Width, 6); var u = Floats(Rows * Width);
        AssertSameInBothLayouts(OpenMoeGatedActivation.ForwardPacked, () =>
        {
            var h = Upload(new float[Rows * Width]);
            _device.Ops.OpenMoeGatedActivation(Upload(g), Upload(u), h, Rows, Width);
            return h;
        });
    }

    [Fact]
    public void Embedding_runs_packed_and_is_identical_in_both_layouts()
    {
        int vocab = 17;
        var tokens = Enumerable.Range(0, Rows).Select(_ => _random.Next(-1, vocab + 1)).ToArray();
        var table = Floats(vocab * Width);
        AssertSameInBothLayouts(Embedding.GatherPacked, () =>
        {
            var output = Upload(new float[Rows * Width]);
            _device.Ops.Embedding(Upload(tokens), Upload(table), output, Rows, Width, vocab);
            return output;
        });
    }

    [Fact]
    public void RmsNorm_runs_packed_and_is_identical_in_both_layouts()
    {
        var x = Floats(Rows * Width, 3); var w = Floats(Width);
        AssertSameInBothLayouts(RmsNorm.ForwardPacked, () =>
        {
            var y = Upload(new float[Rows * Width]);
            _device.Ops.RmsNorm(Upload(x), Upload(w), y, Rows, Width, 1e-6f);
            return y;
        });
    }

    [Fact]
    public void Moe_dispatch_runs_packed_and_is_identical_in_both_layouts()
    {
        int slots = 2 * Rows + 3;
        var x = Floats(Rows * Width);
        var slotTokens = Enumerable.Range(0, slots).Select(_ => _random.Next(-1, Rows)).ToArray();
        AssertSameInBothLayouts(MoeDispatch.GatherPacked, () =>
        {
            var expertInput = Upload(new float[slots * Width]);
            _device.Ops.MoeDispatch(Upload(x), Upload(slotTokens), expertInput, slots, Width);
            return expertInput;
        });
    }

    [Fact]
    public void Moe_combine_runs_packed_and_is_identical_in_both_layouts()
    {
        int k = 2, expertRows = 3 * Rows;
        var expertOutput = Floats(expertRows * Width, 3);
        var tokenRows = Enumerable.Range(0, Rows * k).Select(_ => _random.Next(-1, expertRows)).ToArray();
        var weights = Floats(Rows * k);
        AssertSameInBothLayouts(MoeCombine.CombinePacked, () =>
        {
            var output = Upload(new float[Rows * Width]);
            _device.Ops.MoeCombine(Upload(expertOutput), Upload(tokenRows), Upload(weights), output, Rows, k, Width);
            return output;
        });
    }

    [Fact]
    public void Log_softmax_runs_packed_and_is_identical_in_both_layouts()
    {
        var logits = Floats(Rows * Width, 8);
        AssertSameInBothLayouts(LogSoftmax.ForwardPacked, () =>
        {
            var output = Upload(new float[Rows * Width]);
            _device.Ops.LogSoftmax(Upload(logits), output, Rows, Width);
            return output;
        });
    }

    private void AssertSameInBothLayouts(Delegate packedKernel, Func<ArrayView<float>> run)
    {
        var packed = Download(run());
        Assert.True(_device.Kernels.IsLoaded(packedKernel), $"the launcher did not run {packedKernel.Method.Name}");
        _device.Ops.PackedElementwise = false;
        Assert.Equal(Download(run()), packed);
    }

    private float[] Floats(int count, float scale = 1) =>
        Enumerable.Range(0, count).Select(_ => (float)(_random.NextDouble() * 2 - 1) * scale).ToArray();

    private ArrayView<T> Upload<T>(T[] data) where T : unmanaged => _device.Upload(data, "test").View;

    private float[] Download(ArrayView<float> view)
    {
        _device.Synchronize();
        var host = new float[view.Length];
        view.CopyToCPU(host);
        return host;
    }

    public void Dispose() => _device.Dispose();
}
