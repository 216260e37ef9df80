namespace OpenMoE.Training;

/// <summary>
/// A run folder cannot be used as asked: another process holds it, or a save failed. The message
/// names the folder, the last good checkpoint and what to do (the CLI's exit code 1).
/// </summary>
public sealed class RunFolderException(string message, Exception? inner = null) : Exception(message, inner);
