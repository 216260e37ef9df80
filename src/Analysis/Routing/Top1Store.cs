namespace OpenMoE.Analysis;

/// <summary>
/// The final checkpoint's top-1 expert of every token, per MoE layer, spilled to a temporary file
/// batch by batch so that earlier checkpoints can be compared with it on the same tokens without
/// holding any trace in memory. Token ids are stored too, to prove both passes saw the same data.
/// Write every batch first, then call <see cref="StartReading"/> and read them back in order.
/// </summary>
public sealed class Top1Store : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"openmoe-top1-{Guid.NewGuid():N}.bin");
    private FileStream _stream;
    private BinaryWriter? _writer;
    private BinaryReader? _reader;

    /// <summary>Creates an empty store in the temporary folder (deleted on dispose).</summary>
    public Top1Store()
    {
        _stream = new FileStream(_path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
        _writer = new BinaryWriter(_stream);
    }

    /// <summary>Appends one batch: its token ids and each layer's top-1 experts.</summary>
    public void Write(RoutingBatch batch)
    {
        var writer = _writer ?? throw new InvalidOperationException("The store is being read; write every batch before StartReading.");
        writer.Write(batch.Tokens);
        foreach (var id in batch.TokenIds)
            writer.Write(id);
        foreach (var layer in batch.Layers)
        {
            for (int i = 0; i < batch.Tokens; i++)
                writer.Write(checked((ushort)layer.Expert[i * layer.TopK]));
        }
    }

    /// <summary>Rewinds to the first batch for reading (may be called again for another checkpoint).</summary>
    public void StartReading()
    {
        _writer?.Flush();
        _writer = null;
        _stream.Position = 0;
        _reader ??= new BinaryReader(_stream);
    }

    /// <summary>
    /// Reads the next batch's stored top-1 experts, per MoE layer. // [layers][N]
    /// Throws when <paramref name="batch"/> has other tokens than the stored one.
    /// </summary>
    public ushort[][] ReadNext(RoutingBatch batch)
    {
        var reader = _reader ?? throw new InvalidOperationException("Call StartReading before reading.");
        int tokens = reader.ReadInt32();
        bool same = tokens == batch.Tokens;
        for (int i = 0; i < tokens; i++)
            same &= i < batch.Tokens && reader.ReadInt32() == batch.TokenIds[i];
        if (!same)
            throw new InvalidOperationException("The data differs between the final checkpoint's pass and this one; the pipeline must be deterministic.");
        var result = new ushort[batch.Layers.Count][];
        for (int m = 0; m < result.Length; m++)
        {
            result[m] = new ushort[tokens];
            for (int i = 0; i < tokens; i++)
                result[m][i] = reader.ReadUInt16();
        }
        return result;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stream.Dispose();
    }
}
