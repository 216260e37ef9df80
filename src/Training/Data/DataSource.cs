namespace OpenMoE.Training.Data;

/// <summary>A named set of documents that the mixture draws from as one unit.</summary>
/// <param name="Name">Mixture key, e.g. "code" or "udhr".</param>
/// <param name="Documents">The documents, each with its own domain and language labels.</param>
public sealed record DataSource(string Name, IReadOnlyList<Document> Documents);
