namespace OpenMoE.Tests.Reference;

/// <summary>Hugging Face tensor names (DESIGN §2.6 for OpenMoE; the Mixtral and DeepSeekMoE hub layouts).</summary>
public static class ReferenceNames
{
    /// <summary>Token embedding, [V, D].</summary>
    public const string Embedding = "model.embed_tokens.weight";
    /// <summary>Untied LM head, [V, D].</summary>
    public const string LmHead = "lm_head.weight";
    /// <summary>Final RMSNorm weight, [D].</summary>
    public const string FinalNorm = "model.norm.weight";

    /// <summary>"model.layers.{layer}.{suffix}".</summary>
    public static string Layer(int layer, string suffix) => $"model.layers.{layer}.{suffix}";
}
