namespace OpenMoE.Analysis;

/// <summary>Progress of an analysis run: forward passes done out of the total, and what is running.</summary>
public sealed record AnalysisProgress(int Done, int Total, string Stage);
