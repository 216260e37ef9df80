using OpenMoE.Training.Objectives;
using OpenMoE.Training.Tokenization;

namespace OpenMoE.Training.Data;

/// <summary>
/// Documents in, packed batches out: draws a source by the mixture weights of the step (weights
/// are per example, as seqio mixture rates: token shares also depend on document lengths), takes
/// the next chunk of its current document, applies the step's objective, and packs examples whole
/// into rows of T tokens (a row that cannot fit the next example is padded). Deterministic given
/// the seed; <see cref="State"/>/<see cref="Restore"/> resume it exactly.
/// </summary>
public sealed class DataPipeline
{
    private readonly IReadOnlyList<DataSource> _sources;
    private readonly MixtureSchedule _mixture;
    private readonly ObjectiveSchedule _objectives;
    private readonly ITokenizer _tokenizer;
    private readonly SourceCursor[] _cursors;
    private readonly Dictionary<string, int> _domainIndex;
    private readonly Dictionary<string, int> _languageIndex;
    private readonly ulong _seed;
    private readonly DataRng _rng;

    /// <summary>Creates a pipeline producing rows of <paramref name="sequenceLength"/> tokens.</summary>
    public DataPipeline(IReadOnlyList<DataSource> sources, MixtureSchedule mixture, ObjectiveSchedule objectives,
        ITokenizer tokenizer, int sequenceLength, ulong seed)
    {
        if (sources.Count == 0)
        {
            throw new ArgumentException("The data pipeline needs at least one source.", nameof(sources));
        }
        if (sequenceLength < 16)
        {
            throw new ArgumentOutOfRangeException(nameof(sequenceLength), "Sequences shorter than 16 tokens cannot hold a UL2 example.");
        }
        mixture.Validate(sources);
        _sources = sources;
        _mixture = mixture;
        _objectives = objectives;
        _tokenizer = tokenizer;
        SequenceLength = sequenceLength;
        _seed = seed;
        _rng = new DataRng(seed);
        _cursors = sources.Select((s, i) => new SourceCursor(s, i, seed, tokenizer)).ToArray();
        Domains = sources.SelectMany(s => s.Documents).Select(d => d.Domain).Distinct().Order(StringComparer.Ordinal).ToArray();
        Languages = sources.SelectMany(s => s.Documents).Select(d => d.Language).Distinct().Order(StringComparer.Ordinal).ToArray();
        _domainIndex = Domains.Select((d, i) => (d, i)).ToDictionary(p => p.d, p => p.i);
        _languageIndex = Languages.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i);
    }

    /// <summary>Sequence length T of every row.</summary>
    public int SequenceLength { get; }

    /// <summary>Domain names, the meaning of <see cref="PackedBatch.DomainIds"/>.</summary>
    public IReadOnlyList<string> Domains { get; }

    /// <summary>Language tags, the meaning of <see cref="PackedBatch.LanguageIds"/>.</summary>
    public IReadOnlyList<string> Languages { get; }

    /// <summary>The next <paramref name="batchSize"/> rows, with the mixture and objective of <paramref name="step"/>.</summary>
    public PackedBatch NextBatch(int batchSize, long step)
    {
        var batch = new PackedBatch(batchSize, SequenceLength, Domains, Languages);
        var objective = _objectives.At(step);
        var weights = _mixture.WeightsAt(step, _sources);
        for (var row = 0; row < batchSize; row++)
        {
            FillRow(batch, row, objective, weights);
        }
        return batch;
    }

    /// <summary>The current position; store it with a checkpoint.</summary>
    public PipelineState State => new()
    {
        Seed = _seed,
        RngState = _rng.State,
        Sources = _sources.Select(s => s.Name).ToArray(),
        Epochs = _cursors.Select(c => Math.Max(c.Epoch, 0)).ToArray(),
        DocumentIndices = _cursors.Select(c => c.DocumentIndex).ToArray(),
        TokenOffsets = _cursors.Select(c => c.TokenOffset).ToArray(),
    };

    /// <summary>Continues from <paramref name="state"/> (taken from a pipeline over the same sources and seed).</summary>
    public void Restore(PipelineState state)
    {
        if (state.Seed != _seed || !state.Sources.SequenceEqual(_sources.Select(s => s.Name)))
        {
            throw new ArgumentException(
                $"Pipeline state is for seed {state.Seed} and sources [{string.Join(", ", state.Sources)}]; this pipeline has seed {_seed} and [{string.Join(", ", _sources.Select(s => s.Name))}].",
                nameof(state));
        }
        _rng.State = state.RngState;
        for (var i = 0; i < _cursors.Length; i++)
        {
            _cursors[i].Seek(state.Epochs[i], state.DocumentIndices[i], state.TokenOffsets[i]);
        }
    }

    private void FillRow(PackedBatch batch, int row, IObjective objective, double[] weights)
    {
        var t = SequenceLength;
        // Row stream s[0..T]: s[0] is BOS; Inputs = s[0..T), Labels = s[1..T].
        var stream = new int[t + 1];
        var isTarget = new bool[t + 1];
        var domain = new int[t + 1];
        var language = new int[t + 1];
        Array.Fill(stream, _tokenizer.PadId);
        Array.Fill(domain, -1);
        Array.Fill(language, -1);
        stream[0] = _tokenizer.BosId;
        var position = 1;
        var fruitless = 0;
        while (position <= t)
        {
            var budget = t + 1 - position;
            var sourceIndex = _rng.NextWeighted(weights);
            var cursor = _cursors[sourceIndex];
            var transform = objective.Next(_rng);
            var remaining = cursor.Remaining;
            var (rawLength, endsDocument) = ChooseChunk(transform, remaining, budget);
            if (rawLength < 0)
            {
                if (remaining >= transform.MinRawLength)
                {
                    break; // the row is too full for this example: pad the rest
                }
                // A document tail too short for this transform: drop it and draw again.
                cursor.NextDocument();
                if (++fruitless > 10_000)
                {
                    throw new InvalidDataException($"No document is long enough for '{transform.Name}' ({transform.MinRawLength} tokens).");
                }
                continue;
            }
            var document = cursor.Current;
            var example = transform.Apply(cursor.Tokens.AsSpan(cursor.TokenOffset, rawLength), endsDocument, _rng);
            batch.Examples.Add(new PackedExample(row, position, example.Length, _sources[sourceIndex].Name, example.Transform));
            var d = _domainIndex[document.Domain];
            var l = _languageIndex[document.Language];
            foreach (var (tokens, target) in new[] { (example.Inputs, false), (example.Targets, true) })
            {
                foreach (var token in tokens)
                {
                    stream[position] = token;
                    isTarget[position] = target;
                    domain[position] = d;
                    language[position] = l;
                    position++;
                }
            }
            cursor.Advance(rawLength);
            fruitless = 0;
        }
        var offset = row * t;
        for (var i = 0; i < t; i++)
        {
            batch.Inputs[offset + i] = stream[i];
            batch.Labels[offset + i] = stream[i + 1];
            batch.LossMask[offset + i] = isTarget[i + 1] ? 1f : 0f;
            batch.DomainIds[offset + i] = domain[i];
            batch.LanguageIds[offset + i] = language[i];
        }
    }

    /// <summary>
    /// Longest chunk of the current document that fits <paramref name="budget"/>: all of it if it
    /// fits, else the longest prefix (binary search; output length is monotone). -1 if none.
    /// </summary>
    private static (int RawLength, bool EndsDocument) ChooseChunk(IExampleTransform transform, int remaining, int budget)
    {
        if (remaining >= transform.MinRawLength && transform.OutputLength(remaining, true) <= budget)
        {
            return (remaining, true);
        }
        int lo = transform.MinRawLength, hi = remaining - 1, best = -1;
        if (lo == 0)
        {
            lo = 1; // an empty chunk that does not end the document is no example
        }
        while (lo <= hi)
        {
            var mid = lo + (hi - lo) / 2;
            if (transform.OutputLength(mid, false) <= budget)
            {
                best = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return (best, false);
    }
}
