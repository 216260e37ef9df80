using System.CommandLine;
using System.CommandLine.Parsing;
using System.Runtime.CompilerServices;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// Old option names kept working after a rename, so scripts do not break; using one prints a
/// <c>warning:</c> line on stderr naming the new option.
/// </summary>
internal static class DeprecatedAliases
{
    private static readonly ConditionalWeakTable<Option, string> Old = [];

    /// <summary>Accepts <paramref name="oldName"/> for <paramref name="option"/>, with a deprecation warning.</summary>
    public static T WithDeprecatedAlias<T>(this T option, string oldName) where T : Option
    {
        option.Aliases.Add(oldName);
        Old.AddOrUpdate(option, oldName);
        return option;
    }

    /// <summary>One warning per deprecated name used on this command line.</summary>
    public static IEnumerable<string> Warnings(ParseResult parse)
    {
        for (SymbolResult? command = parse.CommandResult; command is not null; command = command.Parent)
        {
            if (command is not CommandResult result) continue;
            foreach (var option in result.Children.OfType<OptionResult>())
            {
                if (Old.TryGetValue(option.Option, out var oldName) && option.IdentifierToken?.Value == oldName)
                    yield return $"warning: {oldName} is deprecated; use {option.Option.Name}.";
            }
        }
    }
}
