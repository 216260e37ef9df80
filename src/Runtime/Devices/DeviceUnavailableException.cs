namespace OpenMoE.Runtime.Devices;

/// <summary>The requested device does not exist on this machine (e.g. <c>--device cuda</c> without a GPU).</summary>
public sealed class DeviceUnavailableException(string message) : Exception(message);
