namespace OpenMoE.Analysis;

/// <summary>One figure of the from-scratch model next to the upcycled model's, each with its bootstrap 95% interval.</summary>
/// <param name="Key">The <see cref="ControlledFigures"/> key.</param>
/// <param name="Name">What it is, in words.</param>
/// <param name="Scratch">The model trained from scratch (the analysis this comparison belongs to).</param>
/// <param name="Upcycled">The model upcycled from a dense one, analysed on the same tokens.</param>
/// <param name="ScratchUntrained">The from-scratch analysis's untrained control.</param>
/// <param name="UpcycledUntrained">The upcycled analysis's untrained control (the same when both record the same initialisation seed).</param>
/// <param name="Uniform">Uniform routing, where defined.</param>
public sealed record ContrastFigure(string Key, string Name, Interval Scratch, Interval Upcycled, Interval ScratchUntrained, Interval UpcycledUntrained, double? Uniform);

/// <summary>The from-scratch vs upcycled comparison attached to an analysis (<c>openmoe analyze --upcycled FILE</c>).</summary>
/// <param name="Source">The upcycled model's <c>analysis.json</c>.</param>
/// <param name="UpcycledModel">Label of the upcycled model's final checkpoint.</param>
/// <param name="Figures">The token-id and position figures of both models.</param>
public sealed record UpcyclingComparison(string Source, string UpcycledModel, IReadOnlyList<ContrastFigure> Figures);

/// <summary>
/// The OpenMoE paper's Mixtral-vs-DeepSeekMoE contrast at small scale: DeepSeekMoE, trained from scratch,
/// routes by token id; Mixtral, upcycled from a dense model, much less, which the paper attributes to the
/// upcycling. Here the same spec trained from scratch and upcycled from a dense model trained on the same
/// tokens are compared by token-id spread. Rule (<see cref="Rule"/>): reproduces when the from-scratch
/// model's interval lies entirely above the upcycled model's and above its untrained control's (the
/// specialization is learned); partly when it lies above the upcycled model's only; otherwise not.
/// </summary>
public static class UpcyclingContrast
{
    /// <summary>The finding's name in the report.</summary>
    public const string Name = "From-scratch vs upcycled specialization";

    /// <summary>The rule as the report states it.</summary>
    public const string Rule =
        "From-scratch vs upcycled: reproduces when the from-scratch model's token-id spread lies beyond both intervals above the upcycled model's " +
        "and above its own untrained control's; partly when it lies above the upcycled model's only; otherwise it does not reproduce.";

    private static readonly string[] Keys =
    [
        ControlledFigures.TokenSpread, ControlledFigures.NmiToken, ControlledFigures.VocabularyInput,
        ControlledFigures.PositionSpread, ControlledFigures.NmiPosition,
    ];

    /// <summary>
    /// <paramref name="scratch"/> with the comparison against <paramref name="upcycled"/> (read from
    /// <paramref name="source"/>) attached and its finding appended. Both must analyse the same spec with
    /// the same tokenizer on the same data, else an <see cref="ArgumentException"/> says which differs.
    /// </summary>
    public static AnalysisReport Attach(AnalysisReport scratch, AnalysisReport upcycled, string source)
    {
        var (a, b) = (scratch.Run, upcycled.Run);
        foreach (var (what, mine, theirs) in new[] { ("spec", a.Spec, b.Spec), ("tokenizer", a.Tokenizer, b.Tokenizer), ("data", a.Data, b.Data) })
        {
            if (mine != theirs)
                throw new ArgumentException($"--upcycled {source} analyses {what} {theirs}, this analysis {mine}; analyse the upcycled run with the same --spec, --tokenizer and --data.");
        }
        var mineByKey = scratch.Figures.ToDictionary(f => f.Key, StringComparer.Ordinal);
        var theirsByKey = upcycled.Figures.ToDictionary(f => f.Key, StringComparer.Ordinal);
        var figures = Keys.Where(k => mineByKey.ContainsKey(k) && theirsByKey.ContainsKey(k)).Select(k =>
        {
            var (s, u) = (mineByKey[k], theirsByKey[k]);
            return new ContrastFigure(k, s.Name, s.Trained, u.Trained, s.Untrained, u.Untrained, s.Uniform);
        }).ToArray();
        var comparison = new UpcyclingComparison(source, b.Models.Count > 0 ? b.Models[^1].Label : "", figures);
        return scratch with { Findings = [.. scratch.Findings, Judge(comparison)], Upcycling = comparison };
    }

    /// <summary>The verdict on the comparison's token-id spread (<see cref="Rule"/>).</summary>
    public static Finding Judge(UpcyclingComparison comparison)
    {
        if (comparison.Figures.FirstOrDefault(f => f.Key == ControlledFigures.TokenSpread) is not { } token)
            return new(Name, Findings.NotMeasured, "The upcycled analysis has no token-id spread to compare.");
        bool moreThanUpcycled = token.Scratch.Above(token.Upcycled);
        bool learned = token.Scratch.Above(token.ScratchUntrained);
        string text = Findings.F($"Trained from scratch, a token id's expert distribution has a spread of {Findings.I(token.Scratch)}; upcycled from a dense model trained on the same tokens, {Findings.I(token.Upcycled)} ") +
            Findings.F($"(untrained control: {Findings.I(token.ScratchUntrained)}). ");
        if (comparison.Figures.FirstOrDefault(f => f.Key == ControlledFigures.NmiToken) is { } nmi)
            text += Findings.F($"The share of the expert choice the token id explains (NMI) is {Findings.I(nmi.Scratch)} from scratch and {Findings.I(nmi.Upcycled)} upcycled. ");
        text += (moreThanUpcycled, learned) switch
        {
            (true, true) => "The model trained from scratch routes by token id more than the upcycled one, and more than untrained: the paper's DeepSeekMoE-vs-Mixtral contrast holds here.",
            (true, false) => "The model trained from scratch routes by token id more than the upcycled one, but not more than the untrained control: the contrast shows, the learned part of it does not.",
            _ when token.Upcycled.Above(token.Scratch) => "The upcycled model routes by token id more than the one trained from scratch: the opposite of the paper's contrast at this scale.",
            _ => "The two do not differ beyond their intervals.",
        };
        return new(Name, (moreThanUpcycled, learned) switch { (true, true) => Findings.Reproduces, (true, false) => Findings.Partly, _ => Findings.DoesNotReproduce }, text);
    }
}
