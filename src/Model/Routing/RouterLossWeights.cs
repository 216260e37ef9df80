namespace OpenMoE.Model.Routing;

/// <summary>
/// How the per-layer router losses enter the training loss (DESIGN §2.4): each loss is averaged
/// over the MoE layers, then weighted. OpenMoE: 0.01 and 1e-4 (34B used 1e-3 for the z-loss).
/// </summary>
public sealed record RouterLossWeights(double LoadBalancing = 0.01, double ZLoss = 1e-4)
{
    /// <summary>
    /// Weighted averages over layers. <paramref name="perLayer"/> holds one (load balancing, z) pair
    /// per MoE layer; the returned total is what is added to the cross-entropy.
    /// </summary>
    public (double LoadBalancing, double ZLoss, double Total) Combine(IReadOnlyList<(double LoadBalancing, double ZLoss)> perLayer)
    {
        if (perLayer.Count == 0)
            return (0, 0, 0);
        // Indexed sums in layer order (not LINQ, whose enumerator would allocate in every training step).
        double lb = 0, z = 0;
        for (int i = 0; i < perLayer.Count; i++)
        {
            lb += perLayer[i].LoadBalancing;
            z += perLayer[i].ZLoss;
        }
        lb /= perLayer.Count;
        z /= perLayer.Count;
        return (lb, z, LoadBalancing * lb + ZLoss * z);
    }

    /// <summary>Scale for one layer's load-balancing gradient: weight / number of MoE layers.</summary>
    public double LoadBalancingGradientScale(int moeLayers) => LoadBalancing / moeLayers;

    /// <summary>Scale for one layer's z-loss gradient: weight / number of MoE layers.</summary>
    public double ZLossGradientScale(int moeLayers) => ZLoss / moeLayers;
}
