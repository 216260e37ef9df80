namespace OpenMoE.Training.Tokenization;

/// <summary>
/// Picks the tokenizer for a model from one <c>--tokenizer</c> value: nothing (the byte tokenizer),
/// a BPE vocabulary by name (gpt2, r50k, cl100k, o200k: <see cref="TiktokenTextTokenizer"/>), a Hugging
/// Face <c>tokenizer.json</c> (<see cref="HuggingFaceTextTokenizer"/>), or a SentencePiece <c>.model</c>
/// file (umT5 <c>spiece.model</c>, 300 extra ids).
/// </summary>
public static class Tokenizers
{
    /// <summary>Name recorded for the byte tokenizer (the default).</summary>
    public const string ByteName = "byte";

    /// <summary>
    /// Opens <paramref name="tokenizer"/> (see the class summary; null or "byte" = a <see cref="ByteTokenizer"/>
    /// filling the model's vocabulary, sentinels at the top of it). Fails if the tokenizer's ids do not fit the
    /// model's embedding.
    /// </summary>
    /// <param name="tokenizer">A BPE vocabulary name, a path of a SentencePiece model file, "byte" or null.</param>
    /// <param name="modelVocab">The model's vocabulary V (embedding rows).</param>
    public static ITokenizer Open(string? tokenizer, int modelVocab)
    {
        ITokenizer opened = tokenizer switch
        {
            null or ByteName => new ByteTokenizer(modelVocab),
            _ when TiktokenTextTokenizer.Encodings.ContainsKey(tokenizer) => TiktokenTextTokenizer.Open(tokenizer),
            _ when File.Exists(tokenizer) && IsHuggingFace(tokenizer) => HuggingFaceTextTokenizer.Load(tokenizer),
            _ when File.Exists(tokenizer) => SentencePieceTextTokenizer.Load(tokenizer),
            _ => throw new ArgumentException(
                $"--tokenizer '{tokenizer}' is neither a BPE vocabulary ({string.Join(", ", TiktokenTextTokenizer.Encodings.Keys)}) nor an existing tokenizer.json or SentencePiece .model file."),
        };
        if (opened.VocabSize > modelVocab)
        {
            throw new ArgumentException(
                $"The tokenizer has {opened.VocabSize} ids but the model's vocabulary is {modelVocab}; use a spec with a vocabulary of at least {opened.VocabSize}.");
        }
        return opened;
    }

    /// <summary>
    /// What a checkpoint records about the tokenizer a model was trained with: "byte", the BPE name, or
    /// "sentencepiece:FILE NAME" (the file name only, so a run stays valid when its folder moves), or
    /// "huggingface:FILE NAME#HASH" (every such file is called tokenizer.json, so the XxHash64 of its bytes
    /// tells them apart).
    /// </summary>
    public static string RecordedName(string? tokenizer) => tokenizer switch
    {
        null or ByteName => ByteName,
        _ when TiktokenTextTokenizer.Encodings.ContainsKey(tokenizer) => tokenizer,
        _ when IsHuggingFace(tokenizer) => HuggingFacePrefix + Path.GetFileName(tokenizer)
            + (File.Exists(tokenizer) ? "#" + System.IO.Hashing.XxHash64.HashToUInt64(File.ReadAllBytes(tokenizer)).ToString("x16", System.Globalization.CultureInfo.InvariantCulture) : ""),
        _ => SentencePiecePrefix + Path.GetFileName(tokenizer),
    };

    private const string SentencePiecePrefix = "sentencepiece:", HuggingFacePrefix = "huggingface:";

    // A Hugging Face tokenizer is a JSON file (tokenizer.json); SentencePiece models are protobuf.
    private static bool IsHuggingFace(string path) => path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Fails with one line that says what to pass when <paramref name="tokenizer"/> is not the one
    /// <paramref name="recorded"/> in a checkpoint (nothing to check when the checkpoint records none).
    /// </summary>
    public static void CheckMatches(string? recorded, string? tokenizer, string checkpoint)
    {
        if (recorded is null || recorded == RecordedName(tokenizer))
            return;
        string pass = recorded == ByteName ? "no --tokenizer (the byte tokenizer)"
            : recorded.StartsWith(SentencePiecePrefix, StringComparison.Ordinal) ? $"--tokenizer PATH/{recorded[SentencePiecePrefix.Length..]}"
            : recorded.StartsWith(HuggingFacePrefix, StringComparison.Ordinal) ? $"--tokenizer PATH/{recorded[HuggingFacePrefix.Length..].Split('#')[0]} (the file whose XxHash64 is {recorded.Split('#').ElementAtOrDefault(1) ?? "recorded"})"
            : $"--tokenizer {recorded}";
        throw new ArgumentException($"{checkpoint} was trained with the {recorded} tokenizer, not {RecordedName(tokenizer)}; pass {pass}.");
    }
}
