namespace OpenMoE.Runtime.Devices;

/// <summary>An allocation on the device failed for lack of memory; the message names the request and the device.</summary>
public sealed class DeviceOutOfMemoryException(string message, Exception inner) : Exception(message, inner);
