namespace OpenMoE.Bench.Gemm;

/// <summary>One benchmarked product: C[M,N] = op(A)[M,K] @ op(B)[K,N].</summary>
internal sealed record GemmBenchShape(string Name, int M, int N, int K, bool TransA, bool TransB)
{
    /// <summary>
    /// OpenMoE-Base/16E products for T = 512 tokens (D 768, F 2048, gate 2F 4096): dense and
    /// attention weights in Hugging Face [out, in] layout (B transposed); expert stacks
    /// [E, D, 2F] untransposed, 80 tokens per expert (capacity 1.25·2·512/16); and the LM head
    /// over a reduced vocabulary (a wide, skinny-K product like the real 256,384-row head).
    /// </summary>
    public static IReadOnlyList<GemmBenchShape> Base(int tokens, int vocab) =>
    [
        new("attn_qkvo", tokens, 768, 768, false, true),
        new("ffn_gate", tokens, 4096, 768, false, true),
        new("ffn_up", tokens, 2048, 768, false, true),
        new("ffn_down", tokens, 768, 2048, false, true),
        new("expert_gate", 80, 4096, 768, false, false),
        new("expert_down", 80, 768, 2048, false, false),
        new("lm_head", tokens, vocab, 768, false, true),
    ];
}
