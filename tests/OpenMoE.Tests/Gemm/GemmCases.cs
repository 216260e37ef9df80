namespace OpenMoE.Tests.Gemm;

/// <summary>
/// The shapes every provider is checked on: sizes 1 and 7, sizes just past a power of two
/// (129, 130), K past one packed depth block (300 > 256), M past one packed row block
/// (400 > 384), N past one packed column panel (1100 > 1024), tall and wide products that
/// split across threads by rows or by columns, and each of these in all four transpose
/// combinations with cycling padding and alpha/beta.
/// </summary>
public static class GemmCases
{
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (7, 7, 7), (1, 130, 129), (129, 1, 7), (129, 130, 65), (130, 129, 131),
        (13, 77, 300), (300, 40, 100), (400, 33, 20), (3, 1100, 5), (97, 61, 258),
    ];

    private static readonly (float Alpha, float Beta)[] Scalings = [(1f, 0f), (0.5f, -1.25f), (2f, 1f), (-1f, 0.5f)];

    /// <summary>Every shape x transpose combination, padding 0/3 and alpha/beta cycling.</summary>
    public static IEnumerable<GemmCase> All(int maxMacs = int.MaxValue)
    {
        int n = 0;
        foreach (var (m, nn, k) in Shapes)
        {
            if ((long)m * nn * k > maxMacs)
                continue;
            foreach (var transA in new[] { false, true })
                foreach (var transB in new[] { false, true })
                {
                    var (alpha, beta) = Scalings[n % Scalings.Length];
                    yield return new GemmCase(m, nn, k, transA, transB, Pad: n % 2 == 0 ? 0 : 3, alpha, beta);
                    n++;
                }
        }
    }

    /// <summary>Per-expert style batches: [E, ...] stacks with padded strides.</summary>
    public static IEnumerable<GemmCase> Batched() =>
    [
        new GemmCase(9, 33, 17, false, false, Pad: 2, 1f, 0f, Batch: 3),
        new GemmCase(20, 48, 70, false, true, Pad: 0, 0.5f, 1f, Batch: 4),
        new GemmCase(5, 7, 3, true, true, Pad: 1, 1f, -2f, Batch: 2),
    ];
}
