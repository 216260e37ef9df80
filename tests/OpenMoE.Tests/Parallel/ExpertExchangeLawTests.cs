using FsCheck.Xunit;
using OpenMoE.Model.Parallel;

namespace OpenMoE.Tests.Parallel;

/// <summary>
/// The all-to-all exchange of expert parallelism on a fake N-rank communicator (threads): for random
/// ranks, token counts per rank (zero often), top-k, experts and drops, every kept assignment reaches
/// its expert's rank exactly once, at its dispatch row, and its output comes back to its token.
/// </summary>
public class ExpertExchangeLawTests
{
    [Property(MaxTest = 120)]
    public void Every_kept_assignment_is_delivered_once_to_its_expert_and_returned_to_its_token(int seed)
    {
        var c = ExchangeCase.Draw(new Random(seed));
        var group = new ThreadedCommunicators(c.Ranks);
        const int width = 3;
        var results = group.Run(communicator =>
        {
            var parallel = new ExpertParallelism(communicator);
            int rank = communicator.Rank;
            var exchange = ExpertExchange.Plan(c.Rows, c.OwnerFirstRow, c.TokenCounts, c.TopK, rank);
            // Row of local token t: its global token id in every column, so the owner can tell whose row it got.
            var local = new float[c.TokenCounts[rank] * width];
            for (int t = 0; t < c.TokenCounts[rank]; t++)
                for (int j = 0; j < width; j++) local[t * width + j] = c.TokenStart(rank) + t + 1000 * j;
            var expertIn = exchange.Dispatch(parallel, local, width);
            int ownFirst = c.OwnerFirstRow[rank];
            var expertOut = new float[expertIn.Length];
            for (int p = 0; p < exchange.OwnedRows; p++)
            {
                int token = c.TokenOfRow(ownFirst + p);
                for (int j = 0; j < width; j++)
                {
                    Assert.Equal(token + 1000 * j, expertIn[p * width + j]);
                    expertOut[p * width + j] = -(ownFirst + p) - 0.5f * j;
                }
            }
            var returned = exchange.Return(parallel, expertOut, width);
            return (exchange, returned);
        });

        for (int rank = 0; rank < c.Ranks; rank++)
        {
            var (exchange, returned) = results[rank];
            Assert.Equal(c.OwnerFirstRow[rank + 1] - c.OwnerFirstRow[rank], exchange.OwnedRows);
            Assert.Equal(Enumerable.Range(0, exchange.OwnedRows), exchange.ReceivePositions.Order());
            int first = c.TokenStart(rank) * c.TopK;
            for (int a = 0; a < c.TokenCounts[rank] * c.TopK; a++)
            {
                int row = c.Rows[first + a];
                Assert.Equal(row < 0, exchange.LocalRow[a] < 0);
                if (row < 0) continue;
                for (int j = 0; j < width; j++)
                    Assert.Equal(-row - 0.5f * j, returned[exchange.LocalRow[a] * width + j]);
            }
            Assert.Equal(exchange.SentRows, exchange.LocalRow.Count(r => r >= 0));
        }
        // Rows sent to rank o from all ranks are rows rank o received.
        for (int o = 0; o < c.Ranks; o++)
            Assert.Equal(results.Sum(r => r.exchange.SendCounts[o]), results[o].exchange.ReceiveCounts.Sum());
    }

    [Fact]
    public void A_routing_that_does_not_match_the_token_counts_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => ExpertExchange.Plan([0, 1, -1], [0, 2, 2], [1, 1], 2, 0));
        Assert.Contains("3 assignments", e.Message);
    }

    /// <summary>A global routing over P ranks: kept assignments numbered in expert order (random order within an expert, as drop priorities vary).</summary>
    private sealed record ExchangeCase(int Ranks, int Experts, int TopK, int[] TokenCounts, int[] Rows, int[] OwnerFirstRow, int[] RowToken)
    {
        public int TokenStart(int rank) => TokenCounts.Take(rank).Sum();

        public int TokenOfRow(int row) => RowToken[row];

        public static ExchangeCase Draw(Random random)
        {
            int ranks = random.Next(1, 5);
            int experts = ranks * random.Next(1, 4);
            int topK = random.Next(1, Math.Min(experts, 3) + 1);
            var counts = Enumerable.Range(0, ranks).Select(_ => random.Next(3) == 0 ? 0 : random.Next(1, 9)).ToArray();
            int tokens = counts.Sum();
            double keep = random.NextDouble();
            var expertOf = new int[tokens * topK];
            var kept = new List<(int Expert, double Order, int Assignment)>();
            for (int t = 0; t < tokens; t++)
            {
                var chosen = Enumerable.Range(0, experts).OrderBy(_ => random.Next()).Take(topK).ToArray();
                for (int r = 0; r < topK; r++)
                {
                    expertOf[t * topK + r] = chosen[r];
                    if (random.NextDouble() < keep)
                        kept.Add((chosen[r], random.NextDouble(), t * topK + r));
                }
            }
            kept.Sort();
            var rows = Enumerable.Repeat(-1, tokens * topK).ToArray();
            var rowToken = new int[kept.Count];
            for (int i = 0; i < kept.Count; i++)
            {
                rows[kept[i].Assignment] = i;
                rowToken[i] = kept[i].Assignment / topK;
            }
            int perRank = experts / ranks;
            var ownerFirst = new int[ranks + 1];
            for (int o = 0; o <= ranks; o++)
                ownerFirst[o] = kept.Count(x => x.Expert < o * perRank);
            return new ExchangeCase(ranks, experts, topK, counts, rows, ownerFirst, rowToken);
        }
    }
}
