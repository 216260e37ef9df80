using System.CommandLine;
using System.Globalization;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// Ranges of numeric options, checked while parsing (before any work) and stated in --help. A value
/// outside its range is a parse error naming the option, the range and the value given.
/// </summary>
internal static class OptionRules
{
    /// <summary>Requires <c>value &gt;= min</c>.</summary>
    public static Option<T> AtLeast<T>(this Option<T> option, T min) where T : struct, IComparable<T> =>
        option.Rule(v => v.CompareTo(min) >= 0, $"at least {Text(min)}");

    /// <summary>Requires <c>min &lt;= value &lt;= max</c>.</summary>
    public static Option<T> Between<T>(this Option<T> option, T min, T max) where T : struct, IComparable<T> =>
        option.Rule(v => v.CompareTo(min) >= 0 && v.CompareTo(max) <= 0, $"from {Text(min)} to {Text(max)}");

    /// <summary>Requires a finite value <c>&gt; 0</c>.</summary>
    public static Option<double> Positive(this Option<double> option) =>
        option.Rule(v => double.IsFinite(v) && v > 0, "a finite number > 0");

    /// <summary>Requires a finite value <c>&gt;= 0</c>.</summary>
    public static Option<double> NonNegative(this Option<double> option) =>
        option.Rule(v => double.IsFinite(v) && v >= 0, "a finite number >= 0");

    /// <summary>Requires <c>value &gt;= min</c> when the option is given.</summary>
    public static Option<T?> AtLeast<T>(this Option<T?> option, T min) where T : struct, IComparable<T> =>
        option.Rule(v => v is not { } x || x.CompareTo(min) >= 0, $"at least {Text(min)}");

    /// <summary>Requires a finite value <c>&gt; 0</c> when the option is given.</summary>
    public static Option<double?> Positive(this Option<double?> option) =>
        option.Rule(v => v is not { } x || (double.IsFinite(x) && x > 0), "a finite number > 0");

    /// <summary>Requires a value in (0, 1].</summary>
    public static Option<double> Fraction(this Option<double> option) =>
        option.Rule(v => v > 0 && v <= 1, "a number in (0, 1]");

    /// <summary>Requires one of <paramref name="values"/> (ordinal), listed in --help.</summary>
    public static Option<string> OneOf(this Option<string> option, params string[] values) =>
        option.Rule(v => values.Contains(v, StringComparer.Ordinal), "one of " + string.Join(", ", values));

    /// <summary>Requires a non-empty value when the option is given.</summary>
    public static Option<string?> NotEmpty(this Option<string?> option) =>
        option.Rule(v => v is null || v.Length > 0, "non-empty");

    private static Option<T> Rule<T>(this Option<T> option, Func<T, bool> ok, string range)
    {
        option.Description = $"{option.Description} Must be {range}.";
        option.Validators.Add(result =>
        {
            if (result.Implicit) return;
            var value = result.GetValueOrDefault<T>();
            if (!ok(value))
                result.AddError($"{option.Name} must be {range}; got {Text(value)}.");
        });
        return option;
    }

    private static string Text<T>(T value) => value switch
    {
        null => "nothing",
        string s => $"'{s}'",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
