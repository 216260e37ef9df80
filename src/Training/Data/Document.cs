namespace OpenMoE.Training.Data;

/// <summary>One training document with its labels.</summary>
/// <param name="Text">The raw text.</param>
/// <param name="Domain">Data domain, e.g. "code", "prose", "math", "multilingual", "instruction".</param>
/// <param name="Language">Language tag (BCP 47 for natural languages, e.g. "en", "fr"; a language name for code, e.g. "csharp").</param>
public sealed record Document(string Text, string Domain, string Language);
