namespace OpenMoE.Training.Tokenization;

/// <summary>Picks the tokenizer for a model: a SentencePiece file when given, else the byte tokenizer.</summary>
public static class Tokenizers
{
    /// <summary>
    /// Opens <paramref name="sentencePieceModel"/> (umT5 <c>spiece.model</c>, 300 extra ids) or, when it
    /// is null, a <see cref="ByteTokenizer"/> filling the model's vocabulary (sentinels at the top of
    /// it). Fails if the tokenizer's ids do not fit the model's embedding.
    /// </summary>
    /// <param name="sentencePieceModel">Path of a SentencePiece model file, or null.</param>
    /// <param name="modelVocab">The model's vocabulary V (embedding rows).</param>
    public static ITokenizer Open(string? sentencePieceModel, int modelVocab)
    {
        ITokenizer tokenizer = sentencePieceModel is null
            ? new ByteTokenizer(modelVocab)
            : SentencePieceTextTokenizer.Load(sentencePieceModel);
        if (tokenizer.VocabSize > modelVocab)
        {
            throw new ArgumentException(
                $"The tokenizer has {tokenizer.VocabSize} ids but the model's vocabulary is {modelVocab}; use a spec with a vocabulary of at least {tokenizer.VocabSize}.");
        }
        return tokenizer;
    }
}
