using OpenMoE.Model.Routing;

namespace OpenMoE.Tests.Routing;

/// <summary>
/// Plain-C# dispatch (gather rows per expert) and combine (weighted scatter back), with their
/// backward passes, in double. The forward pass's kernels will be checked against these.
/// </summary>
public static class DispatchCombineReference
{
    /// <summary>rows[i] = x[token of DispatchOrder[i]]. // x [N, D] -> rows [kept, D]</summary>
    public static double[] Dispatch(RoutingResult r, double[] x, int d)
    {
        var rows = new double[r.KeptAssignments * d];
        for (int i = 0; i < r.KeptAssignments; i++)
            Array.Copy(x, r.DispatchOrder[i] / r.TopK * d, rows, i * d, d);
        return rows;
    }

    /// <summary>y[t] = sum_r combineWeight[t, r] * rows[Row[t, r]]. // rows [kept, D] -> y [N, D]</summary>
    public static double[] Combine(RoutingResult r, double[] rows, int d)
    {
        var y = new double[r.Tokens * d];
        for (int a = 0; a < r.Assignments; a++)
        {
            if (r.Row[a] < 0)
                continue;
            double w = r.Weight[a];
            for (int j = 0; j < d; j++)
                y[a / r.TopK * d + j] += w * rows[r.Row[a] * d + j];
        }
        return y;
    }

    /// <summary>Backward of <see cref="Combine"/>. // gradY [N, D] -> gradRows [kept, D], gradWeight [N, K]</summary>
    public static (double[] GradRows, double[] GradWeight) CombineBackward(RoutingResult r, double[] rows, double[] gradY, int d)
    {
        var gradRows = new double[rows.Length];
        var gradWeight = new double[r.Assignments];
        for (int a = 0; a < r.Assignments; a++)
        {
            if (r.Row[a] < 0)
                continue;
            int t = a / r.TopK, row = r.Row[a];
            for (int j = 0; j < d; j++)
            {
                gradRows[row * d + j] += r.Weight[a] * gradY[t * d + j];
                gradWeight[a] += rows[row * d + j] * gradY[t * d + j];
            }
        }
        return (gradRows, gradWeight);
    }

    /// <summary>Backward of <see cref="Dispatch"/>: rows scatter-add to their tokens. // gradRows [kept, D] -> gradX [N, D]</summary>
    public static double[] DispatchBackward(RoutingResult r, double[] gradRows, int d)
    {
        var gradX = new double[r.Tokens * d];
        for (int i = 0; i < r.KeptAssignments; i++)
        {
            int t = r.DispatchOrder[i] / r.TopK;
            for (int j = 0; j < d; j++)
                gradX[t * d + j] += gradRows[i * d + j];
        }
        return gradX;
    }

    /// <summary>Dispatch, apply each expert to its rows, combine. // x [N, D] -> [N, D]</summary>
    public static double[] MoeForward(RoutingResult r, double[] x, int d, Func<int, double[], double[]> expert)
    {
        var rows = Dispatch(r, x, d);
        var outRows = new double[rows.Length];
        for (int i = 0; i < r.KeptAssignments; i++)
        {
            int e = r.Expert[r.DispatchOrder[i]];
            Array.Copy(expert(e, rows[(i * d)..((i + 1) * d)]), 0, outRows, i * d, d);
        }
        return Combine(r, outRows, d);
    }
}
