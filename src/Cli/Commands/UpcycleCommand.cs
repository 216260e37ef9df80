using System.CommandLine;
using System.Globalization;
using OpenMoE.Model.Checkpointing;
using OpenMoE.Model.Specs;
using OpenMoE.Runtime.Checkpoints;
using OpenMoE.Training;
using Spectre.Console;

namespace OpenMoE.Cli.Commands;

/// <summary>
/// <c>openmoe upcycle --from DENSE_CHECKPOINT --spec MOE_SPEC --out DIR [--noise X] [--seed S]</c>: sparse
/// upcycling (<see cref="Upcycling"/>), an MoE checkpoint whose experts start as copies of a trained dense
/// model's FFNs; train it further with <c>openmoe train --init-from DIR</c>.
/// </summary>
public static class UpcycleCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var from = new Option<string>("--from") { Description = "Dense checkpoint (a spec with MoeLayerRule.Dense, e.g. OpenMoE-Tiny-Dense), run folder or safetensors.", Required = true };
        var spec = new Option<string>("--spec") { Description = "MoE spec to build (same sizes as the dense spec; expert width = its FFN width).", Required = true };
        var output = new Option<string>("--out") { Description = "Checkpoint folder to create.", Required = true };
        var noise = new Option<double>("--noise") { Description = "Relative noise of each expert copy: w * (1 + X * N(0, 1)) (0 = exact copies).", DefaultValueFactory = _ => 0 }.NonNegative();
        var seed = new Option<ulong>("--seed") { Description = "Seed of the fresh router (and extra/shared FFN) and of the noise.", DefaultValueFactory = _ => 1UL };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing checkpoint at --out." };
        var command = new Command("upcycle", "Build an MoE checkpoint from a dense one: every expert a copy of the dense FFN, the router fresh (sparse upcycling).")
        {
            from, spec, output, noise, seed, overwrite,
        };
        command.SetAction(parse =>
        {
            var console = CliConsole.Out(parse);
            var moe = ModelSpecs.Find(parse.GetValue(spec)!);
            string source = parse.GetValue(from)!;
            string target = parse.GetValue(output)!;
            bool replace = parse.GetValue(overwrite);
            double x = parse.GetValue(noise);
            ulong s = parse.GetValue(seed);
            if (!double.IsFinite(x))
                throw new UsageException($"--noise must be a finite number >= 0; got {x.ToString(CultureInfo.InvariantCulture)}.");
            if (File.Exists(target) || (Directory.Exists(target) && !replace))
                throw new UsageException($"--out '{target}' already exists; choose another path{(File.Exists(target) ? "" : " or pass --overwrite")}.");
            if (!File.Exists(source) && !Directory.Exists(source))
                throw new FileNotFoundException($"--from '{source}' does not exist; pass a checkpoint of a dense spec (e.g. trained with openmoe train --spec {moe.Name}-Dense).", source);

            using var dense = WeightFile.Open(source, expectedSpec: null);
            try
            {
                Upcycling.CheckCompatible(dense.Spec, moe);
            }
            catch (ArgumentException ex)
            {
                throw new UsageException($"--from {source} cannot be upcycled into --spec {moe.Name}: {ex.Message}");
            }
            var byName = dense.Spec.Parameters.ToDictionary(p => p.Name, StringComparer.Ordinal);
            var metadata = CheckpointMetadata.Now(0);
            // The analysis takes the MoE spec's initialisation with this seed as the untrained control.
            metadata.Extra["init_seed"] = s.ToString(CultureInfo.InvariantCulture);
            metadata.Extra["upcycled_from"] = dense.Description;
            metadata.Extra["upcycle_noise"] = x.ToString("R", CultureInfo.InvariantCulture);
            if (dense.Checkpoint?.Metadata.Extra is { } extra && CheckpointTrainingStore.RecordedTokenizer(extra) is { } tokenizer)
                metadata.Extra[CheckpointTrainingStore.TokenizerKey] = tokenizer;
            string path = ModelCheckpoint.Save(target, moe,
                (p, sink) => Upcycling.Stream(dense.Spec, moe, p, name => dense.Read(byName[name]), s, x, sink),
                metadata, options: new CheckpointWriteOptions { Overwrite = replace });
            console.MarkupLineInterpolated($"wrote [green]{path}[/]: {moe.Name} ({moe.TotalParams:N0} parameters) upcycled from {dense.Description}, {moe.Config.Experts} experts per MoE layer, noise {x.ToString(CultureInfo.InvariantCulture)}, router seed {s}");
            return 0;
        });
        return command;
    }
}
