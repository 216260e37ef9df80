using ILGPU;
using ILGPU.Runtime;

namespace OpenMoE.Model.Routing.Device;

/// <summary>
/// Router outputs on the device, owned by this object (dispose to free).
/// Shapes as in <see cref="TopKChoices"/>.
/// </summary>
public sealed class DeviceTopK : IDisposable
{
    /// <summary>N.</summary>
    public required int Tokens { get; init; }
    /// <summary>Softmax over all experts. // [N, E]</summary>
    public required MemoryBuffer1D<float, Stride1D.Dense> Probabilities { get; init; }
    /// <summary>Chosen experts. // [N, K]</summary>
    public required MemoryBuffer1D<int, Stride1D.Dense> Choices { get; init; }
    /// <summary>Raw probability of each choice. // [N, K]</summary>
    public required MemoryBuffer1D<float, Stride1D.Dense> ChoiceProbabilities { get; init; }
    /// <summary>Combine weight before dropping. // [N, K]</summary>
    public required MemoryBuffer1D<float, Stride1D.Dense> Weights { get; init; }

    /// <summary>Copy to the host in the reference's record.</summary>
    public TopKChoices ToHost(int experts, int topK) => new(
        Tokens, experts, topK,
        Probabilities.GetAsArray1D(), Choices.GetAsArray1D(), ChoiceProbabilities.GetAsArray1D(), Weights.GetAsArray1D());

    /// <inheritdoc />
    public void Dispose()
    {
        Probabilities.Dispose();
        Choices.Dispose();
        ChoiceProbabilities.Dispose();
        Weights.Dispose();
    }
}
