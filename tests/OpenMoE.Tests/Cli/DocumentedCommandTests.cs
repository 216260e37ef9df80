using System.Text;
using System.Text.RegularExpressions;
using OpenMoE.Cli;
using OpenMoE.Tests.Data;

namespace OpenMoE.Tests.Cli;

/// <summary>
/// Every <c>openmoe</c> command shown in a shell code block (```bash, ```sh, ```console) of README.md
/// or docs/*.md parses as written:
/// the command exists, every option exists (no deprecated alias), and every value is in range. A doc
/// that renames an option, or a rename that forgets the docs, fails here.
/// </summary>
public partial class DocumentedCommandTests
{
    public static TheoryData<string, string> Commands()
    {
        var data = new TheoryData<string, string>();
        var pages = new[] { "README.md" }.Concat(Directory.GetFiles(RepositoryFiles.PathOf("docs"), "*.md").Select(p => Path.GetRelativePath(RepositoryFiles.Root, p)));
        foreach (var page in pages.Order(StringComparer.Ordinal))
        {
            foreach (var command in CommandsIn(File.ReadAllText(RepositoryFiles.PathOf(page))))
                data.Add(page, command);
        }
        return data;
    }

    private static readonly string[] ShellBlocks = ["bash", "sh", "shell", "console"];

    /// <summary>Lines in shell code blocks that start with <c>openmoe</c> (after an optional <c>$ </c>), joined across trailing backslashes.</summary>
    private static IEnumerable<string> CommandsIn(string markdown)
    {
        bool fenced = false, shell = false;
        var pending = new StringBuilder();
        foreach (var raw in markdown.ReplaceLineEndings("\n").Split('\n'))
        {
            if (raw.StartsWith("```", StringComparison.Ordinal))
            {
                fenced = !fenced;
                shell = fenced && ShellBlocks.Contains(raw[3..].Trim(), StringComparer.Ordinal);
                continue;
            }
            if (!shell) continue;
            var line = raw.Trim();
            if (pending.Length == 0)
            {
                if (line.StartsWith("$ ", StringComparison.Ordinal)) line = line[2..];
                if (!line.StartsWith("openmoe ", StringComparison.Ordinal)) continue;
            }
            line = StripComment(line);
            if (line.EndsWith('\\'))
            {
                pending.Append(line[..^1]).Append(' ');
                continue;
            }
            pending.Append(line);
            yield return pending.ToString().Trim();
            pending.Clear();
        }
    }

    private static string StripComment(string line)
    {
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            if (line[i] == '"') quoted = !quoted;
            if (!quoted && line[i] == '#' && (i == 0 || line[i - 1] == ' ')) return line[..i].TrimEnd();
        }
        return line;
    }

    private static string[] Words(string command) =>
        Word().Matches(command).Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Value).ToArray();

    [GeneratedRegex("\"([^\"]*)\"|\\S+")]
    private static partial Regex Word();

    [Theory]
    [MemberData(nameof(Commands))]
    public void A_documented_command_parses_as_written(string page, string command)
    {
        var words = Words(command);
        Assert.Equal("openmoe", words[0]);
        var parse = Program.CreateRootCommand().Parse(words[1..]);
        Assert.True(parse.Errors.Count == 0, $"{page}: `{command}`: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
        var deprecated = OpenMoE.Cli.Commands.DeprecatedAliases.Warnings(parse).ToArray();
        Assert.True(deprecated.Length == 0, $"{page}: `{command}` uses a deprecated name: {string.Join("; ", deprecated)}");
    }

    [Fact]
    public void The_docs_show_their_commands_in_shell_blocks()
    {
        var rows = Commands().ToArray();
        Assert.True(rows.Length >= 15, $"only {rows.Length} documented commands found");
        var pages = rows.Select(row => (string)row[0]).Distinct().ToArray();
        Assert.Contains(Path.Combine("docs", "cli.md"), pages);
        Assert.Contains(Path.Combine("docs", "training.md"), pages);
    }
}
