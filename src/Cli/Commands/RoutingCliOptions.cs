using System.CommandLine;
using OpenMoE.Model.Network;
using OpenMoE.Model.Routing;
using OpenMoE.Model.Routing.Replay;
using OpenMoE.Model.Specs;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// The routing options of issue 16, in one place: <c>--routing</c> (train, eval, generate) and routing
/// record/replay (<c>--record-routing</c> on eval, <c>--replay-routing</c> on eval and train).
/// </summary>
internal sealed class RoutingCliOptions(bool record, bool replay)
{
    public Option<string?> Routing { get; } = new("--routing")
    {
        Description = "Routing rule over the spec's (a checkpoint's own rule is used otherwise): " + RoutingOverride.Syntax + ".",
    };
    public Option<string?> Record { get; } = new("--record-routing") { Description = "Write every token's routing decisions per MoE layer to this file." };
    public Option<string?> Replay { get; } = new("--replay-routing")
    {
        Description = "Force the routing decisions of a --record-routing file (same spec and data) and report how many a fresh routing would change.",
    };

    /// <summary>Adds the options this command takes.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(Routing);
        if (record)
            command.Options.Add(Record);
        if (replay)
            command.Options.Add(Replay);
    }

    /// <summary>The parsed <c>--routing</c>, or null.</summary>
    public RoutingOverride? Override(ParseResult parse) => parse.GetValue(Routing) is { } text ? RoutingOverride.Parse(text) : null;

    /// <summary>
    /// Applies <c>--routing</c> to <paramref name="model"/> (keeping the checkpoint's rule without it) and
    /// warns when the rule breaks causality (expert choice).
    /// </summary>
    public void Apply(ParseResult parse, MoeTransformer model, IAnsiConsole console)
    {
        if (Override(parse) is { } routing)
            model.RoutingOverride = routing;
        if (model.RoutingConfig.RoutingRule == RoutingRule.ExpertChoice)
            console.MarkupLine("[yellow]warning:[/] expert choice lets later tokens decide earlier tokens' experts (no causal decoder): research use only.");
    }

    /// <summary>A recorder when <c>--record-routing</c> is given.</summary>
    public RoutingRecorder? Recorder(ParseResult parse) => record && parse.GetValue(Record) is not null ? new RoutingRecorder() : null;

    /// <summary>The replay of <c>--replay-routing</c>'s file for <paramref name="spec"/>, or null.</summary>
    public RoutingReplay? OpenReplay(ParseResult parse, ModelSpecInfo spec) =>
        replay && parse.GetValue(Replay) is { } path ? new RoutingReplay(RoutingRecordingFile.Read(path), spec.Name, spec.SpecHash) : null;

    /// <summary>Writes the recording (when recording) and reports a replay's changed decisions.</summary>
    public void Finish(ParseResult parse, ModelSpecInfo spec, RoutingRecorder? recorder, RoutingReplay? replayed, IAnsiConsole console)
    {
        if (recorder is not null && parse.GetValue(Record) is { } path)
        {
            RoutingRecordingFile.Write(path, recorder.ToRecording(spec.Name, spec.SpecHash));
            console.MarkupLineInterpolated($"routing decisions written to {path}");
        }
        if (replayed is not null)
            console.MarkupLineInterpolated($"replayed {replayed.Decisions:N0} routing decisions; a fresh routing would have changed {replayed.Changed:N0} ({(double)replayed.Changed / Math.Max(1, replayed.Decisions):P2})");
    }
}
