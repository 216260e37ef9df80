using OpenMoE.Kernels;
using OpenMoE.Model.Specs;
using OpenMoE.Model.Specs.Shipped;

namespace OpenMoE.Tests.Specs;

/// <summary>The generated ModelSpecs registry: order, lookup, hashes and dims dispatch.</summary>
public class RegistryTests
{
    [Fact]
    public void All_is_ordered_by_name_and_holds_every_shipped_spec()
    {
        var names = ModelSpecs.All.Select(s => s.Name).ToArray();

        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        Assert.Equal(
            ["DeepSeekMoE-16B", "DeepSeekMoE-Tiny", "Mixtral-8x7B", "Mixtral-Tiny", "Mixtral-Tiny-Dense", "OpenMoE-34B/32E", "OpenMoE-8B/32E", "OpenMoE-Base/16E", "OpenMoE-Mini", "OpenMoE-Mini-Dense", "OpenMoE-Tiny", "OpenMoE-Tiny-Dense"],
            names);
    }

    [Fact]
    public void Find_ignores_case()
    {
        Assert.Same(OpenMoEBase16E.Info, ModelSpecs.Find("openmoe-base/16e"));
        Assert.Null(ModelSpecs.TryFind("OpenMoE-Huge"));
    }

    [Fact]
    public void Find_of_an_unknown_name_lists_the_known_names()
    {
        var error = Assert.Throws<ArgumentException>(() => ModelSpecs.Find("OpenMoE-Huge"));

        Assert.Contains("OpenMoE-Huge", error.Message, StringComparison.Ordinal);
        Assert.All(ModelSpecs.All, s => Assert.Contains(s.Name, error.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void Spec_hash_matches_the_runtime_hash_of_the_config_and_differs_between_specs()
    {
        Assert.All(ModelSpecs.All, s => Assert.Equal(SpecHashing.Compute(s.Config), s.SpecHash));
        Assert.Equal(ModelSpecs.All.Length, ModelSpecs.All.Select(s => s.SpecHash).Distinct().Count());
        Assert.NotEqual(OpenMoETiny.SpecHash, SpecHashing.Compute(OpenMoETiny.Config with { TrainCapacityFactor = 1.5 }));
        Assert.Matches("^[0-9A-F]{16}$", OpenMoETiny.SpecHash);
    }

    [Fact]
    public void Parameter_info_compares_shapes_by_value()
    {
        var built = OpenMoETiny.Info.Parameters[0];
        var copy = new ParameterInfo("model.embed_tokens.weight", [512, 64], -1, ParameterRole.Embedding, -1);

        Assert.Equal(built, copy);
        Assert.Equal(built.GetHashCode(), copy.GetHashCode());
        Assert.NotEqual(built, copy with { Shape = [64, 512] });
    }

    [Fact]
    public void Paper_figures_exist_for_the_published_sizes_only()
    {
        Assert.Equal(650_000_000, OpenMoEBase16E.Info.PaperFigures!.TotalParams);
        Assert.Equal(142_000_000, OpenMoEBase16E.Info.PaperFigures!.ActivatedParams);
        Assert.Equal(5, ModelSpecs.All.Count(s => s.PaperFigures is not null));
        Assert.All(ModelSpecs.All.Where(s => s.Name.EndsWith("-Tiny", StringComparison.Ordinal)), s => Assert.Null(s.PaperFigures));
    }

    [Fact]
    public void Dispatch_calls_the_visitor_with_the_specs_dims_struct()
    {
        foreach (var spec in ModelSpecs.All)
        {
            var c = spec.Config;
            Assert.Equal(
                (c.Vocab, c.Hidden, c.Heads, c.KvHeads, c.HeadDim, c.Ffn, c.Experts, c.TopK, c.ExpertFfn, c.Layers),
                spec.Dispatch(new ReadDims()));
        }
        Assert.Equal(typeof(OpenMoETiny.Dims), OpenMoETiny.Info.Dispatch(new DimsType()));
    }

    private sealed class ReadDims : IDimsVisitor<(int, int, int, int, int, int, int, int, int, int)>
    {
        public (int, int, int, int, int, int, int, int, int, int) Visit<TDims>() where TDims : struct, IModelDims =>
            (TDims.Vocab, TDims.Hidden, TDims.Heads, TDims.KvHeads, TDims.HeadDim, TDims.Ffn, TDims.Experts, TDims.TopK, TDims.ExpertFfn, TDims.Layers);
    }

    private sealed class DimsType : IDimsVisitor<Type>
    {
        public Type Visit<TDims>() where TDims : struct, IModelDims => typeof(TDims);
    }
}
