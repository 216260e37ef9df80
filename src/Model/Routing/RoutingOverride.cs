using System.Globalization;
using OpenMoE.Model.Specs;

namespace OpenMoE.Model.Routing;

/// <summary>
/// A routing rule chosen at run time (<c>--routing</c>) over the spec's: comma-separated presets and
/// <c>key=value</c> items, applied left to right to the spec's routing fields. Presets: <c>token-choice</c>,
/// <c>expert-choice</c>, <c>aux-free</c> (sigmoid scores, renormalised top-k, expert bias: DeepSeek-V3),
/// <c>by-probability</c>. Keys: <c>rule=token|expert</c>, <c>scoring=softmax|sigmoid</c>,
/// <c>gating=raw|renormalized</c>, <c>drop=position|probability</c>, <c>bias=on|off</c>, <c>bias-rate=X</c>,
/// <c>groups=G/M</c> (G expert groups, M chosen per token). The spec's weights and sizes never change.
/// </summary>
public sealed record RoutingOverride(string Text)
{
    /// <summary>The accepted syntax, for help texts and errors.</summary>
    public const string Syntax =
        "token-choice | expert-choice | aux-free | by-probability, or key=value items: rule=token|expert, scoring=softmax|sigmoid, " +
        "gating=raw|renormalized, drop=position|probability, bias=on|off, bias-rate=X, groups=G/M (comma-separated)";

    /// <summary>Parses <paramref name="text"/>; throws <see cref="ArgumentException"/> naming the bad item.</summary>
    public static RoutingOverride Parse(string text)
    {
        var parsed = new RoutingOverride(text);
        parsed.ApplyItems(ProbeConfig);
        return parsed;
    }

    /// <summary><paramref name="config"/> with this override's routing fields; the result is checked like a spec.</summary>
    public ModelConfig Apply(ModelConfig config)
    {
        config = ApplyItems(config);
        try
        {
            RoutingOptions.FromConfig(config, training: true);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"--routing {Text} does not fit {config.Name}: {ex.Message}", ex);
        }
        return config;
    }

    private ModelConfig ApplyItems(ModelConfig config)
    {
        foreach (string raw in Text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            config = ApplyItem(config, raw.ToLowerInvariant());
        return config;
    }

    private static ModelConfig ApplyItem(ModelConfig c, string item)
    {
        switch (item)
        {
            case "token-choice": return c with { RoutingRule = RoutingRule.TokenChoice };
            case "expert-choice": return c with { RoutingRule = RoutingRule.ExpertChoice, Gating = Gating.RawSoftmax, ExpertBias = false, ExpertGroups = 1, TopGroups = 1 };
            case "aux-free": return c with { RouterScoring = RouterScoring.Sigmoid, Gating = Gating.RenormalizedTopK, ExpertBias = true };
            case "by-probability": return c with { DropPolicy = DropPolicy.ByProbability };
        }
        int eq = item.IndexOf('=');
        string key = eq < 0 ? item : item[..eq], value = eq < 0 ? "" : item[(eq + 1)..];
        return (key, value) switch
        {
            ("rule", "token") => c with { RoutingRule = RoutingRule.TokenChoice },
            ("rule", "expert") => c with { RoutingRule = RoutingRule.ExpertChoice },
            ("scoring", "softmax") => c with { RouterScoring = RouterScoring.Softmax },
            ("scoring", "sigmoid") => c with { RouterScoring = RouterScoring.Sigmoid },
            ("gating", "raw") => c with { Gating = Gating.RawSoftmax },
            ("gating", "renormalized") => c with { Gating = Gating.RenormalizedTopK },
            ("drop", "position") => c with { DropPolicy = DropPolicy.ByPosition },
            ("drop", "probability") => c with { DropPolicy = DropPolicy.ByProbability },
            ("bias", "on") => c with { ExpertBias = true },
            ("bias", "off") => c with { ExpertBias = false },
            ("bias-rate", _) when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double rate) => c with { BiasUpdateRate = rate },
            ("groups", _) when Groups(value) is var (g, m) => c with { ExpertGroups = g, TopGroups = m },
            _ => throw new ArgumentException($"Unknown routing item '{item}'; use {Syntax}."),
        };
    }

    private static (int, int)? Groups(string value)
    {
        var parts = value.Split('/');
        return parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out int g) && int.TryParse(parts[1], CultureInfo.InvariantCulture, out int m)
            ? (g, m) : null;
    }

    // Parse checks the syntax only; whether the rule fits a model is checked by Apply on its config.
    private static readonly ModelConfig ProbeConfig = new()
    {
        Name = "probe", Vocab = 2, Hidden = 2, Heads = 1, KvHeads = 1, HeadDim = 2, Layers = 1, ContextLength = 2, NormEps = 1e-6, RopeTheta = 1e4,
        AttentionScale = AttentionScale.None, TiedEmbeddings = false, FfnKind = FfnKind.OpenMoEGated, Ffn = 2, MoeLayerRule = MoeLayerRule.EveryN,
        MoeLayerParameter = 1, Experts = 64, TopK = 1, ExpertFfn = 2, SharedExpertKind = SharedExpertKind.None, SharedExperts = 0, SharedExpertFfn = 0,
        Gating = Gating.RawSoftmax, CapacityRule = CapacityRule.T5x, TrainCapacityFactor = 1.25, EvalCapacityFactor = 2, MinCapacity = 4,
    };
}
