using System.Globalization;

namespace OpenMoE.Model.Evaluation;

/// <summary>Token-id files: plain text, one sequence per line, ids separated by commas or spaces.</summary>
public static class TokenIdFile
{
    /// <summary>Reads every non-empty line of <paramref name="path"/> as one sequence.</summary>
    public static List<int[]> Read(string path) => ReadLines(path).Where(l => l.Ids.Length > 0).Select(l => l.Ids).ToList();

    /// <summary>Every line of <paramref name="path"/> (empty ones too) with its <c>path:line</c> location.</summary>
    public static List<(int[] Ids, string Where)> ReadLines(string path)
    {
        if (Directory.Exists(path))
            throw new FileNotFoundException($"Token-id file '{path}' is a directory; pass a text file with one sequence of ids per line.", path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Token-id file '{path}' does not exist.", path);
        var lines = new List<(int[], string)>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            string where = $"{path}:{lineNumber}";
            lines.Add((ParseIds(line, where), where));
        }
        return lines;
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

    /// <summary>
    /// The sequences to evaluate from <paramref name="lines"/>: each line is one sequence, cut into
    /// pieces of at most <paramref name="maxLength"/> tokens when given. Every id is checked against
    /// <paramref name="vocab"/> (a <see cref="FormatException"/> naming the line), a sequence longer than
    /// <paramref name="contextLength"/> is an error that says to pass --seq, and what cannot be evaluated
    /// (empty lines, single tokens: nothing to predict) is listed in <see cref="EvaluationInput.Skipped"/>.
    /// </summary>
    public static EvaluationInput Sequences(IEnumerable<(int[] Ids, string Where)> lines, int? maxLength, int vocab, int contextLength)
    {
        if (maxLength is { } m && (m < 2 || m > contextLength))
            throw new ArgumentException($"--seq must be from 2 to the context length {contextLength}; got {m}.");
        var sequences = new List<int[]>();
        var skipped = new List<string>();
        foreach (var (ids, where) in lines)
        {
            for (int i = 0; i < ids.Length; i++)
            {
                if ((uint)ids[i] >= (uint)vocab)
                    throw new FormatException($"{where}: token id {ids[i]} (field {i + 1}) is outside the vocabulary [0, {vocab}).");
            }
            if (maxLength is null && ids.Length > contextLength)
                throw new ArgumentException($"{where}: {ids.Length} tokens exceed the context length {contextLength}; pass --seq N to cut lines into pieces.");
            foreach (var piece in ids.Chunk(maxLength ?? Math.Max(ids.Length, 1)))
            {
                if (piece.Length >= 2)
                    sequences.Add(piece);
                else
                    skipped.Add($"{where}: a piece of 1 token (nothing to predict)");
            }
            if (ids.Length == 0)
                skipped.Add($"{where}: empty");
        }
        return new EvaluationInput(sequences, skipped);
    }
}

/// <summary>Sequences to evaluate, and what was left out with the reason (reported, never silent).</summary>
/// <param name="Sequences">Each of at least 2 tokens.</param>
/// <param name="Skipped">One entry per line or piece left out, starting with its <c>path:line</c>.</param>
public sealed record EvaluationInput(List<int[]> Sequences, List<string> Skipped);
