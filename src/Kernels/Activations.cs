using ILGPU.Algorithms;

namespace OpenMoE.Kernels;

/// <summary>Scalar activation functions shared by kernels (device) and references (host).</summary>
public static class Activations
{
    /// <summary>SiLU (swish): x * sigmoid(x), on the device.</summary>
    public static float Silu(float x) => x / (1.0f + XMath.Exp(-x));

    /// <summary>SiLU in double precision, for the reference twins.</summary>
    public static double SiluReference(double x) => x / (1.0 + Math.Exp(-x));
}
