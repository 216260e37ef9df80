using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.CodeAnalysis;

namespace OpenMoE.Tests.Generators;

/// <summary>
/// Compares generated sources with committed files under Snapshots/&lt;scenario&gt;/. A missing or
/// different file fails; set UPDATE_SNAPSHOTS=1 to rewrite them (then review the diff).
/// </summary>
internal static class Snapshot
{
    public static void Verify(string scenario, GeneratorDriverRunResult result, [CallerFilePath] string callerPath = "")
    {
        var directory = Path.Combine(SnapshotRoot(callerPath), scenario);
        var generated = result.Results.SelectMany(r => r.GeneratedSources)
            .ToDictionary(s => s.HintName + ".txt", s => s.SourceText.ToString(), StringComparer.Ordinal);
        var update = Environment.GetEnvironmentVariable("UPDATE_SNAPSHOTS") == "1";

        if (update)
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
            Directory.CreateDirectory(directory);
            foreach (var (file, text) in generated)
            {
                File.WriteAllText(Path.Combine(directory, file), text, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            }
            return;
        }

        var committed = Directory.Exists(directory)
            ? Directory.GetFiles(directory, "*.txt").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray()
            : [];
        Assert.True(committed.Length > 0, $"No snapshot for scenario '{scenario}' in {directory}; run the tests with UPDATE_SNAPSHOTS=1 and commit the files.");
        Assert.Equal(committed, generated.Keys.Order(StringComparer.Ordinal).ToArray());
        foreach (var file in committed)
        {
            var expected = File.ReadAllText(Path.Combine(directory, file));
            Assert.True(expected == generated[file],
                $"Generated {file} differs from Snapshots/{scenario}/{file}; if the change is intended, rerun with UPDATE_SNAPSHOTS=1 and review the diff.\n--- generated ---\n{generated[file]}");
        }
    }

    /// <summary>
    /// The committed Snapshots folder: found from the test binaries (bin/... lies under the project
    /// folder), falling back to this source file's folder; build path maps cannot hide it either way.
    /// </summary>
    private static string SnapshotRoot(string callerPath)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OpenMoE.Tests.csproj")))
            {
                return Path.Combine(dir.FullName, "Generators", "Snapshots");
            }
        }
        return Path.Combine(Path.GetDirectoryName(callerPath)!, "Snapshots");
    }
}
