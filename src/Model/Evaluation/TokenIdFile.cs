using System.Globalization;

namespace OpenMoE.Model.Evaluation;

/// <summary>Token-id files: plain text, one sequence per line, ids separated by commas or spaces.</summary>
public static class TokenIdFile
{
    /// <summary>Reads every non-empty line of <paramref name="path"/> as one sequence.</summary>
    public static List<int[]> Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Token-id file '{path}' does not exist.", path);
        var sequences = new List<int[]>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            var ids = ParseIds(line, $"{path}:{lineNumber}");
            if (ids.Length == 0)
                continue;
            sequences.Add(ids);
        }
        return sequences;
    }

    /// <summary>
    /// Token ids separated by commas, spaces or tabs; a field that is not an integer is a
    /// <see cref="FormatException"/> that starts with <paramref name="where"/>.
    /// </summary>
    public static int[] ParseIds(string text, string where)
    {
        var fields = text.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[fields.Length];
        for (int i = 0; i < fields.Length; i++)
        {
            if (!int.TryParse(fields[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out ids[i]))
                throw new FormatException($"{where}: '{fields[i]}' is not a token id (integers separated by commas or spaces).");
        }
        return ids;
    }

    /// <summary>Cuts each sequence into pieces of exactly <paramref name="length"/> tokens (a shorter tail is dropped).</summary>
    public static List<int[]> Chunk(IEnumerable<int[]> sequences, int length)
    {
        if (length < 2)
            throw new ArgumentException($"--seq must be >= 2, got {length}.");
        return sequences.SelectMany(s => s.Chunk(length)).Where(c => c.Length == length).ToList();
    }
}
