using System.Globalization;
using System.Text.RegularExpressions;

namespace OpenMoE.Runtime.Ptx;

/// <summary>
/// Reads the resource lines of <c>ptxas -v</c> (CUDA 12.x wording). Per entry function ptxas prints
/// <c>Compiling entry function 'F' for 'sm_XX'</c>, then <c>Function properties for F</c> followed by the
/// stack/spill line, then <c>Used N registers[, S bytes smem][, ...]</c>.
/// </summary>
public static partial class PtxasOutputParser
{
    /// <summary>One record per entry function, in output order.</summary>
    /// <exception cref="FormatException">An entry has no stack or register line: the output is not what this parser knows, and a silent zero would hide local memory.</exception>
    public static IReadOnlyList<PtxasResources> Parse(string output)
    {
        var results = new List<PtxasResources>();
        Entry? current = null;
        string? propertiesFor = null;
        foreach (string line in output.Split('\n'))
        {
            if (EntryLine().Match(line) is { Success: true } entry)
            {
                Finish(current, results);
                current = new Entry(entry.Groups["name"].Value, entry.Groups["arch"].Value);
                propertiesFor = null;
            }
            else if (PropertiesLine().Match(line) is { Success: true } properties)
            {
                propertiesFor = properties.Groups["name"].Value;
            }
            else if (StackLine().Match(line) is { Success: true } stack)
            {
                // Properties of a non-entry function (a .func) are not the entry's own.
                if (current is not null && propertiesFor == current.Name)
                    current.Stack = (Int(stack, "stack"), Int(stack, "stores"), Int(stack, "loads"));
            }
            else if (UsedLine().Match(line) is { Success: true } used && current is not null)
            {
                current.Registers = Int(used, "regs");
                current.SharedMemory = used.Groups["smem"].Success ? Int(used, "smem") : 0;
            }
        }
        Finish(current, results);
        return results;
    }

    private static void Finish(Entry? entry, List<PtxasResources> results)
    {
        if (entry is null)
            return;
        if (entry.Stack is not { } stack || entry.Registers is not { } registers)
            throw new FormatException($"ptxas output for '{entry.Name}' ({entry.Architecture}) lacks its stack-frame or register line");
        results.Add(new PtxasResources(entry.Name, entry.Architecture, registers, stack.Frame, stack.Stores, stack.Loads, entry.SharedMemory));
    }

    private static int Int(Match match, string group) => int.Parse(match.Groups[group].Value, NumberStyles.None, CultureInfo.InvariantCulture);

    private sealed class Entry(string name, string architecture)
    {
        public string Name { get; } = name;
        public string Architecture { get; } = architecture;
        public (int Frame, int Stores, int Loads)? Stack { get; set; }
        public int? Registers { get; set; }
        public int SharedMemory { get; set; }
    }

    [GeneratedRegex(@"Compiling entry function '(?<name>[^']+)' for '(?<arch>[^']+)'")]
    private static partial Regex EntryLine();

    [GeneratedRegex(@"Function properties for (?<name>\S+)")]
    private static partial Regex PropertiesLine();

    [GeneratedRegex(@"(?<stack>\d+) bytes stack frame, (?<stores>\d+) bytes spill stores, (?<loads>\d+) bytes spill loads")]
    private static partial Regex StackLine();

    [GeneratedRegex(@"Used (?<regs>\d+) registers(?:.*?, (?<smem>\d+) bytes smem)?")]
    private static partial Regex UsedLine();
}
