using OpenMoE.Analysis;

namespace OpenMoE.Tests.Training;

public sealed class LossCurvePlotTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("openmoe-curve-").FullName;

    [Fact]
    public void Plots_every_finite_step_of_a_metrics_log_as_a_png()
    {
        string metrics = Path.Combine(_root, "metrics.jsonl");
        File.WriteAllLines(metrics,
        [
            """{"step":1,"loss":6.1,"ce":6.0,"lr":0.01,"aux_loss":2,"z_loss":4,"grad_norm":1,"drop_ratio":{"1":0.4},"tokens_per_s":100}""",
            """{"step":2,"loss":null,"ce":null,"lr":0.01,"aux_loss":2,"z_loss":4,"grad_norm":1,"drop_ratio":{"1":0.4},"tokens_per_s":100}""",
            """{"step":3,"loss":5.1,"ce":5.0,"lr":0.01,"aux_loss":2,"z_loss":4,"grad_norm":1,"drop_ratio":{"1":0.4},"tokens_per_s":100}""",
        ]);
        string png = Path.Combine(_root, "loss.png");
        Assert.Equal(2, LossCurvePlot.Write(metrics, png, baseline: 3.5, baselineLabel: "unigram"));
        var header = File.ReadAllBytes(png).Take(8).ToArray();
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, header);
    }

    [Fact]
    public void A_log_without_finite_steps_is_an_error()
    {
        string metrics = Path.Combine(_root, "empty.jsonl");
        File.WriteAllText(metrics, "");
        Assert.Throws<InvalidDataException>(() => LossCurvePlot.Write(metrics, Path.Combine(_root, "x.png")));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
