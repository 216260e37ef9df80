using OpenMoE.Runtime.Communication;

namespace OpenMoE.Model.Parallel;

/// <summary>
/// Who sends which token row to whom in one MoE layer under expert parallelism, derived from the
/// global routing that every rank computed identically (so no counts need exchanging).
/// <para>
/// The global dispatch list orders kept assignments by expert, and each rank owns a contiguous run
/// of experts, so rank o owns the contiguous dispatch rows <c>[ownerFirstRow[o], ownerFirstRow[o+1])</c>.
/// A rank sends its kept assignments in ascending dispatch row (which groups them by owner); an owner
/// receives blocks in source-rank order, each ascending, and puts every row at its dispatch position,
/// so its experts see exactly the rows, in the order, that one process would give them. The return
/// trip is the same exchange reversed; a token's outputs arrive in the order it sent them.
/// </para>
/// </summary>
public sealed class ExpertExchange
{
    private ExpertExchange(int[] sendTokens, int[] sendCounts, int[] receivePositions, int[] receiveCounts, int[] localRow, int ownedRows)
    {
        SendTokens = sendTokens;
        SendCounts = sendCounts;
        ReceivePositions = receivePositions;
        ReceiveCounts = receiveCounts;
        LocalRow = localRow;
        OwnedRows = ownedRows;
    }

    /// <summary>The local token of each row this rank sends, in send order. // [sent]</summary>
    public int[] SendTokens { get; }

    /// <summary>Rows this rank sends to each rank. // [P]</summary>
    public int[] SendCounts { get; }

    /// <summary>Where each received row goes among this rank's dispatch rows, in receive order. // [owned]</summary>
    public int[] ReceivePositions { get; }

    /// <summary>Rows this rank receives from each rank. // [P]</summary>
    public int[] ReceiveCounts { get; }

    /// <summary>
    /// For each local assignment t*K + r: its row in the returned outputs (send order), or -1 when the
    /// assignment was dropped. // [n*K]
    /// </summary>
    public int[] LocalRow { get; }

    /// <summary>Dispatch rows of this rank's experts (rows its experts run on).</summary>
    public int OwnedRows { get; }

    /// <summary>Rows this rank sends (and gets back).</summary>
    public int SentRows => SendTokens.Length;

    /// <summary>
    /// The exchange of rank <paramref name="rank"/> for the global routing <paramref name="rows"/> [Ng*K]
    /// (dispatch row of every assignment, -1 = dropped; tokens in rank order, <paramref name="tokenCounts"/>
    /// [P] per rank), whose dispatch rows of owner o start at <paramref name="ownerFirstRow"/>[o] ([P+1],
    /// the last entry the number of kept assignments).
    /// </summary>
    public static ExpertExchange Plan(ReadOnlySpan<int> rows, ReadOnlySpan<int> ownerFirstRow, ReadOnlySpan<int> tokenCounts, int topK, int rank)
    {
        int ranks = tokenCounts.Length;
        if (ownerFirstRow.Length != ranks + 1)
            throw new ArgumentException($"Expected {ranks + 1} owner row offsets, got {ownerFirstRow.Length}.");
        var tokenStart = new int[ranks + 1];
        for (int s = 0; s < ranks; s++) tokenStart[s + 1] = tokenStart[s] + tokenCounts[s];
        if (rows.Length != tokenStart[ranks] * topK)
            throw new ArgumentException($"The routing has {rows.Length} assignments; {tokenStart[ranks]} tokens of top-{topK} have {tokenStart[ranks] * topK}.");

        int first = tokenStart[rank] * topK, local = tokenCounts[rank] * topK;
        var mine = new List<(int Row, int Assignment)>();
        for (int a = 0; a < local; a++)
        {
            if (rows[first + a] >= 0)
                mine.Add((rows[first + a], a));
        }
        mine.Sort();
        var sendTokens = new int[mine.Count];
        var sendCounts = new int[ranks];
        var localRow = new int[local];
        Array.Fill(localRow, -1);
        for (int i = 0; i < mine.Count; i++)
        {
            sendTokens[i] = mine[i].Assignment / topK;
            localRow[mine[i].Assignment] = i;
            sendCounts[OwnerOf(ownerFirstRow, mine[i].Row)]++;
        }

        int ownFirst = ownerFirstRow[rank], owned = ownerFirstRow[rank + 1] - ownFirst;
        var receiveCounts = new int[ranks];
        var receivePositions = new int[owned];
        int filled = 0;
        // Assignments are in token order, tokens in rank order: one pass visits the sources in rank order,
        // each source's rows then sorted ascending, as its sender sorted them.
        for (int s = 0; s < ranks; s++)
        {
            int start = filled;
            for (int a = tokenStart[s] * topK; a < tokenStart[s + 1] * topK; a++)
            {
                int row = rows[a];
                if (row >= ownFirst && row < ownFirst + owned)
                    receivePositions[filled++] = row - ownFirst;
            }
            Array.Sort(receivePositions, start, filled - start);
            receiveCounts[s] = filled - start;
        }
        if (filled != owned)
            throw new ArgumentException($"Rank {rank} owns {owned} dispatch rows but the routing assigns {filled} to them.");
        return new ExpertExchange(sendTokens, sendCounts, receivePositions, receiveCounts, localRow, owned);
    }

    /// <summary>
    /// Sends this rank's token rows <paramref name="local"/> [n, D] to their experts' ranks; returns this
    /// rank's expert inputs [owned, D] in dispatch order.
    /// </summary>
    public float[] Dispatch(ExpertParallelism parallel, ReadOnlySpan<float> local, int width)
    {
        var send = new float[(long)SentRows * width];
        for (int i = 0; i < SendTokens.Length; i++)
            local.Slice(SendTokens[i] * width, width).CopyTo(send.AsSpan(i * width, width));
        return SendRows(parallel, send, width);
    }

    /// <summary>
    /// Sends rows already in send order (<paramref name="rows"/> [sent, D]: the backward's gradients of
    /// the returned outputs) to the experts' ranks; returns this rank's rows [owned, D] in dispatch order.
    /// </summary>
    public float[] SendRows(ExpertParallelism parallel, float[] rows, int width)
    {
        if (rows.Length != (long)SentRows * width)
            throw new ArgumentException($"Expected {SentRows} rows of {width} to send, got {rows.Length} values.");
        var send = rows;
        var received = new float[(long)OwnedRows * width];
        Exchange(parallel, send, SendCounts, received, ReceiveCounts, width);
        var expertIn = new float[(long)OwnedRows * width];
        for (int j = 0; j < ReceivePositions.Length; j++)
            received.AsSpan(j * width, width).CopyTo(expertIn.AsSpan(ReceivePositions[j] * width, width));
        return expertIn;
    }

    /// <summary>
    /// Sends this rank's expert outputs <paramref name="expertOut"/> [owned, D] back to their tokens' ranks;
    /// returns the outputs of this rank's kept assignments [sent, D] in send order (<see cref="LocalRow"/>).
    /// </summary>
    public float[] Return(ExpertParallelism parallel, ReadOnlySpan<float> expertOut, int width)
    {
        var send = new float[(long)OwnedRows * width];
        for (int j = 0; j < ReceivePositions.Length; j++)
            expertOut.Slice(ReceivePositions[j] * width, width).CopyTo(send.AsSpan(j * width, width));
        var returned = new float[(long)SentRows * width];
        Exchange(parallel, send, ReceiveCounts, returned, SendCounts, width);
        return returned;
    }

    private static void Exchange(ExpertParallelism parallel, float[] send, int[] sendRows, float[] receive, int[] receiveRows, int width)
    {
        var communicator = parallel.Communicator;
        var sendCounts = sendRows.Select(r => r * width).ToArray();
        var receiveCounts = receiveRows.Select(r => r * width).ToArray();
        communicator.AllToAllVariable<float>(send, sendCounts, receive, receiveCounts);
        long rows = sendRows.Sum() - sendRows[communicator.Rank];
        parallel.CountSent(rows, rows * width * sizeof(float));
    }

    private static int OwnerOf(ReadOnlySpan<int> ownerFirstRow, int row)
    {
        for (int o = 0; o < ownerFirstRow.Length - 1; o++)
        {
            if (row < ownerFirstRow[o + 1])
                return o;
        }
        throw new ArgumentException($"Dispatch row {row} is past the last owner's rows (kept {ownerFirstRow[^1]}).");
    }
}
