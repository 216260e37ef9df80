using System.Globalization;
using System.Text;
using OpenMoE.Model.Tokenization;

namespace OpenMoE.Model.Analysis;

/// <summary>Printable text of one token id for tables and plot labels (whitespace and control characters made visible).</summary>
public static class TokenText
{
    /// <summary>The decoded token with spaces as '␣', newlines as '\n', other control characters as \uXXXX; "#id" when it decodes to nothing.</summary>
    public static string Of(ITokenizer tokenizer, int id)
    {
        string raw = tokenizer.Decode([id]);
        if (raw.Length == 0)
            return id == tokenizer.PadId ? "<pad>" : id == tokenizer.EosId ? "</s>" : $"#{id}";
        var text = new StringBuilder(raw.Length);
        foreach (char c in raw)
        {
            text.Append(c switch
            {
                ' ' => "␣",
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                '\uFFFD' => $"#{id}",
                _ when char.IsControl(c) => "\\u" + ((int)c).ToString("X4", CultureInfo.InvariantCulture),
                _ => c.ToString(),
            });
        }
        return text.ToString();
    }
}
