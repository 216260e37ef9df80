using System.Globalization;
using System.Text;
using OpenMoE.Training.Tokenization;

namespace OpenMoE.Analysis;

/// <summary>Printable text of one token id for tables and plot labels (whitespace and control characters made visible).</summary>
public static class TokenText
{
    /// <summary>
    /// The decoded token with spaces as '␣', newlines as '\n', other control characters as \uXXXX;
    /// a byte-tokenizer byte that is not UTF-8 on its own as &lt;0xHH&gt;; "#id" when nothing printable is left.
    /// </summary>
    public static string Of(ITokenizer tokenizer, int id)
    {
        string raw = tokenizer.Decode([id]);
        if (tokenizer is ByteTokenizer && raw == "\uFFFD" && id is >= ByteTokenizer.FirstByteId and < ByteTokenizer.ReservedIds)
            return string.Create(CultureInfo.InvariantCulture, $"<0x{id - ByteTokenizer.FirstByteId:X2}>");
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
