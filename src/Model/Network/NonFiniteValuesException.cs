namespace OpenMoE.Model.Network;

/// <summary>An activation became NaN or infinite during a training forward (the trainer reports it as divergence).</summary>
public sealed class NonFiniteValuesException(string message) : Exception(message);
