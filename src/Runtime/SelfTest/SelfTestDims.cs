using OpenMoE.Kernels;

namespace OpenMoE.Runtime.SelfTest;

/// <summary>
/// Small, deliberately odd model dimensions that instantiate the size-specialised kernels for
/// the self-test and the PTX check (Hidden and Vocab not multiples of any warp or group size).
/// </summary>
public readonly struct SelfTestDims : IModelDims
{
    public static int Vocab => 257;
    public static int Hidden => 129;
    public static int Heads => 4;
    public static int KvHeads => 2;
    public static int HeadDim => 6;
    public static int Ffn => 7;
    public static int Experts => 3;
    public static int TopK => 2;
    public static int ExpertFfn => 5;
    public static int Layers => 2;
}
