using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Parallel;

/// <summary>Which tensors belong to the routed experts: what expert parallelism shards and data parallelism averages per shard.</summary>
public static class ExpertTensors
{
    /// <summary>OpenMoE's stacked expert tensors (wi_gate [E, D, 2F], wi_up [E, D, F], wo [E, F, D]).</summary>
    public static bool IsStacked(ParameterInfo parameter) =>
        parameter.Expert < 0 && parameter.Role is ParameterRole.ExpertGate or ParameterRole.ExpertUp or ParameterRole.ExpertDown;

    /// <summary>A routed expert's tensor (per expert, or a stack of all of them); not the router, not shared experts.</summary>
    public static bool IsRoutedExpert(ParameterInfo parameter) => parameter.Expert >= 0 || IsStacked(parameter);
}
