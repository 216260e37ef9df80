using FsCheck.Xunit;
using OpenMoE.Model.Routing.Replay;
using OpenMoE.Tests.Checkpoints;

namespace OpenMoE.Tests.Routing;

/// <summary>
/// The routing recording file: a round trip keeps every decision, and every truncation, every flipped
/// bit and every trailing byte is an <see cref="InvalidDataException"/> that names the file (never a
/// wrong recording, never another exception), as the checkpoint format's fuzz tests demand of checkpoints.
/// </summary>
public class RoutingRecordingFileTests
{
    private static RoutingRecording Sample()
    {
        var random = new Random(3);
        RoutingDecisions Layer(int layer) => new(layer, 6, 2,
            Enumerable.Range(0, 12).Select(_ => random.Next(4)).ToArray(), Enumerable.Range(0, 12).Select(a => a % 3 - 1).ToArray());
        return new RoutingRecording("OpenMoE-Tiny", "0123456789ABCDEF",
        [
            new RecordedBatch(2, 3, 42UL, [Layer(1), Layer(3)]),
            new RecordedBatch(1, 6, 7UL, [Layer(1), Layer(3)]),
        ]);
    }

    private static byte[] Written(out string path, TempFolder temp)
    {
        path = temp.Sub("routing.bin");
        RoutingRecordingFile.Write(path, Sample());
        return File.ReadAllBytes(path);
    }

    [Fact]
    public void A_written_recording_reads_back_equal()
    {
        using var temp = new TempFolder();
        Written(out var path, temp);
        var read = RoutingRecordingFile.Read(path);
        var sample = Sample();
        Assert.Equal(sample.SpecName, read.SpecName);
        Assert.Equal(sample.SpecHash, read.SpecHash);
        Assert.Equal(sample.Batches.Count, read.Batches.Count);
        for (int b = 0; b < sample.Batches.Count; b++)
        {
            Assert.Equal((sample.Batches[b].Batch, sample.Batches[b].Time, sample.Batches[b].TokenHash), (read.Batches[b].Batch, read.Batches[b].Time, read.Batches[b].TokenHash));
            for (int l = 0; l < sample.Batches[b].Layers.Count; l++)
            {
                Assert.Equal(sample.Batches[b].Layers[l].Choices, read.Batches[b].Layers[l].Choices);
                Assert.Equal(sample.Batches[b].Layers[l].Slots, read.Batches[b].Layers[l].Slots);
                Assert.Equal(sample.Batches[b].Layers[l].Layer, read.Batches[b].Layers[l].Layer);
            }
        }
    }

    [Fact]
    public void Every_truncation_is_a_clear_error()
    {
        using var temp = new TempFolder();
        var bytes = Written(out var path, temp);
        for (int length = 0; length < bytes.Length; length++)
        {
            File.WriteAllBytes(path, bytes[..length]);
            var error = Assert.Throws<InvalidDataException>(() => RoutingRecordingFile.Read(path));
            Assert.Contains(path, error.Message);
        }
    }

    [Property(MaxTest = 300)]
    public void Any_flipped_bit_is_a_clear_error(int position, byte bit)
    {
        using var temp = new TempFolder();
        var bytes = Written(out var path, temp);
        int at = (int)((uint)position % bytes.Length);
        bytes[at] ^= (byte)(1 << (bit % 8));
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<InvalidDataException>(() => RoutingRecordingFile.Read(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Trailing_bytes_another_version_and_another_format_are_clear_errors()
    {
        using var temp = new TempFolder();
        var bytes = Written(out var path, temp);
        File.WriteAllBytes(path, [.. bytes, 0]);
        Assert.Contains("truncated or padded", Assert.Throws<InvalidDataException>(() => RoutingRecordingFile.Read(path)).Message);
        var future = (byte[])bytes.Clone();
        future[8] = 2;
        File.WriteAllBytes(path, future);
        Assert.Contains("version 2", Assert.Throws<InvalidDataException>(() => RoutingRecordingFile.Read(path)).Message);
        File.WriteAllText(path, "{\"not\": \"a recording\"}");
        Assert.Contains("not a routing recording", Assert.Throws<InvalidDataException>(() => RoutingRecordingFile.Read(path)).Message);
    }

    [Fact]
    public void Decisions_whose_slots_cannot_be_dispatched_are_rejected()
    {
        // Expert 0 holds slot 0 twice; then slot 1 without a slot 0.
        var twice = new RoutingDecisions(1, 2, 1, [0, 0], [0, 0]);
        Assert.Contains("twice", Assert.Throws<InvalidDataException>(() => twice.Counts(experts: 2, tokensPerGroup: 2)).Message);
        var gap = new RoutingDecisions(1, 2, 1, [0, 1], [1, -1]);
        Assert.Contains("slot 1", Assert.Throws<InvalidDataException>(() => gap.Counts(experts: 2, tokensPerGroup: 2)).Message);
        var outside = new RoutingDecisions(1, 2, 1, [0, 5], [0, 0]);
        Assert.Contains("expert 5", Assert.Throws<InvalidDataException>(() => outside.Counts(experts: 2, tokensPerGroup: 2)).Message);
        var (demand, kept) = new RoutingDecisions(1, 2, 1, [0, 1], [0, -1]).Counts(experts: 2, tokensPerGroup: 2);
        Assert.Equal([1, 1], demand);
        Assert.Equal([1, 0], kept);
    }
}
